"""Networks built by hand: the lecture's constructions, exactly.

Every function here returns an ordinary `models.MLP` (a Flax NNX module with
ReLU hidden layers and a linear head) whose weights are set by a
construction rather than by training, so `params.count_params` counts it,
`regions.count_linear_pieces` counts its pieces, and the engine could train
it further. Inputs are float32 arrays of shape (N, d); outputs (N, 1).

Conventions (closed forms: deepvsshallow/reference/theory.md):
  tent map       T(x) = 2 relu(x) - 4 relu(x - 1/2) on [0, 1] (the third
                 ReLU of the usual formula, 2 relu(x - 1), is 0 there).
                 T^k, the k-fold composition, has 2^k linear pieces.
  Yarotsky       f_m(x) = x - sum_{s=1..m} T^s(x) / 4^s; sup over [0, 1] of
                 |f_m(x) - x^2| is 2^(-2m-2). f_m is the piecewise-linear
                 interpolant of x^2 at the 2^m + 1 dyadic knots j / 2^m.
  parity         `parity_net(n)`'s output is 1 when the number of ones is
                 even, 0 when odd (the lecture's XNOR convention).

Every weight of the constructions is a small dyadic rational, so float32
evaluates them exactly on dyadic inputs; the tests check the closed forms in
float64 as well.
"""

from __future__ import annotations

import math
from typing import Sequence

import jax.numpy as jnp
import numpy as np
from flax import nnx

from deepvsshallow import models
from deepvsshallow.errors import UsageError

# The largest n whose parity constructions are verified on all 2^n inputs
# (65,536 at n = 16); beyond it a claim of exactness could not be checked.
MAX_PARITY_BITS = 16
# Depth limits: 2^k pieces are still resolvable in float32 on [0, 1] (the
# pieces are 2^-k wide), and 2^-(2m+2) stays above float32's resolution at 1.
MAX_SAWTOOTH_DEPTH = 16
MAX_SQUARE_DEPTH = 10

Layers = Sequence[tuple[np.ndarray, np.ndarray]]  # (W_in_out, b_out) per layer.


def he_normal_mlp(input_dim: int, widths: Sequence[int], seed: int,
                  bias_std: float) -> models.MLP:
  """A ReLU MLP with one output, initialised as Hanin & Rolnick 2019 did
  (ICML, section 3): weights i.i.d. N(0, 2 / fan-in) (He normal), biases
  i.i.d. N(0, bias_std^2) (theirs: variance 1e-6, std 1e-3). Drawn by
  numpy's generator from `seed`: each seed is one draw."""
  rng = np.random.default_rng(seed)
  dims = [input_dim, *widths, 1]
  return mlp_from_layers([
      (rng.normal(0.0, np.sqrt(2.0 / a), (a, b)), rng.normal(0.0, bias_std, b))
      for a, b in zip(dims[:-1], dims[1:])])


def mlp_from_layers(layers: Layers) -> models.MLP:
  """A ReLU `models.MLP` with exactly these dense layers (the last is the
  linear head). Built abstractly, so no random initialisation is compiled."""
  if len(layers) < 2:
    raise UsageError(f'an MLP needs a hidden layer and a head, got '
                     f'{len(layers)} layer(s).')
  input_dim = layers[0][0].shape[0]
  widths = [w.shape[1] for w, _ in layers[:-1]]
  num_outputs = layers[-1][0].shape[1]
  model = nnx.eval_shape(lambda: models.MLP(
      input_dim, widths, num_outputs, activation='relu', rngs=nnx.Rngs(0)))
  for dense, (w, b) in zip([*model.hidden, model.head], layers):
    w, b = np.asarray(w, np.float64), np.asarray(b, np.float64)
    if w.shape != tuple(dense.kernel.shape) or b.shape != tuple(
        dense.bias.shape):
      raise ValueError(f'layer shapes {w.shape}, {b.shape} do not chain; '
                       f'expected {dense.kernel.shape}, {dense.bias.shape}.')
    dense.kernel.set_value(jnp.asarray(w, jnp.float32))
    dense.bias.set_value(jnp.asarray(b, jnp.float32))
  return model


def _positive_int(name: str, value, *, at_least: int, at_most: int) -> int:
  if (not isinstance(value, (int, np.integer)) or isinstance(value, bool)
      or not at_least <= value <= at_most):
    raise UsageError(f'{name} must be an integer in [{at_least}, {at_most}], '
                     f'got {value!r}.')
  return int(value)


# ------------------------------------------------------------ closed forms


def hard_sigmoid(x):
  """0 below 0, x on [0, 1], 1 above: clip(x, 0, 1)."""
  return np.clip(x, 0.0, 1.0)


def tent(x, k: int = 1):
  """T^k(x) on [0, 1], in numpy (the reference the nets are checked against)."""
  x = np.asarray(x, np.float64)
  for _ in range(k):
    x = np.where(x <= 0.5, 2 * x, 2 - 2 * x)
  return x


def yarotsky(x, m: int):
  """f_m(x) = x - sum_{s=1..m} T^s(x) / 4^s, in numpy."""
  x = np.asarray(x, np.float64)
  return x - sum(tent(x, s) / 4.0 ** s for s in range(1, m + 1))


def yarotsky_error(m: int) -> float:
  """Closed form: sup over [0, 1] of |f_m(x) - x^2|, 2^(-2m-2)."""
  return 2.0 ** (-2 * m - 2)


def interpolation_error_square(pieces: int) -> float:
  """Closed form: max |x^2 - interpolant| on [0, 1] with equal pieces, h^2/4."""
  return 1.0 / (4.0 * pieces ** 2)


def and_or_terms(n: int) -> int:
  """Terms of a depth-2 AND/OR (DNF) circuit for parity: one per odd set."""
  return 2 ** (n - 1)


def xnor_tree_gates(n: int) -> int:
  """XNOR gates in a balanced tree over n inputs (depth ceil(log2 n))."""
  return n - 1


# ----------------------------------------------------------- constructions


def hard_sigmoid_net() -> models.MLP:
  """hs(x) = relu(x) - relu(x - 1): one hidden layer of 2 ReLUs."""
  return mlp_from_layers([
      (np.array([[1.0, 1.0]]), np.array([0.0, -1.0])),
      (np.array([[1.0], [-1.0]]), np.array([0.0]))])


def _check_knots(knots_x, knots_y) -> tuple[np.ndarray, np.ndarray]:
  x = np.asarray(knots_x, np.float64)
  y = np.asarray(knots_y, np.float64)
  if x.ndim != 1 or y.shape != x.shape or len(x) < 2:
    raise UsageError(f'knots must be two 1-D sequences of equal length >= 2, '
                     f'got shapes {x.shape} and {y.shape}.')
  if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
    raise UsageError('knots must be finite numbers.')
  steps = np.diff(x)
  if np.any(steps <= 0):
    i = int(np.argmax(steps <= 0))
    what = 'duplicate' if steps[i] == 0 else 'unsorted'
    raise UsageError(f'knots_x must be strictly increasing; {what} at '
                     f'positions {i}, {i + 1}: {x[i]!r}, {x[i + 1]!r}.')
  return x, y


def interpolant_net(knots_x, knots_y) -> models.MLP:
  """One hidden layer of ReLUs that equals the piecewise-linear interpolant
  through the knots on [knots_x[0], knots_x[-1]].

  f(x) = y_0 + s_0 relu(x - x_0) + sum_i (s_i - s_{i-1}) relu(x - x_i), with
  s_i the slope of piece i: one unit for the first slope and one per interior
  knot where the slope changes, so at most len(knots_x) - 1 units.
  """
  x, y = _check_knots(knots_x, knots_y)
  slopes = np.diff(y) / np.diff(x)
  changes = np.diff(slopes)
  keep = np.flatnonzero(changes != 0) + 1        # Interior knots that kink.
  kinks = np.concatenate([[x[0]], x[keep]])
  out = np.concatenate([[slopes[0]], changes[keep - 1]])
  return mlp_from_layers([
      (np.ones((1, len(kinks))), -kinks),
      (out[:, None], np.array([y[0]]))])


def hard_sigmoid_pieces(knots_x, knots_y, x) -> np.ndarray:
  """The lecture's picture of the interpolant: y_0 plus one scaled, shifted
  hard sigmoid per piece, (y_{i+1} - y_i) hs((x - x_i) / (x_{i+1} - x_i)),
  each two ReLUs. Returns the pieces, shape (len(knots_x) - 1, len(x)); their
  sum plus y_0 is the interpolant on [x_0, x_{-1}] (and constant outside)."""
  kx, ky = _check_knots(knots_x, knots_y)
  x = np.asarray(x, np.float64)
  return np.stack([(ky[i + 1] - ky[i]) * hard_sigmoid(
      (x - kx[i]) / (kx[i + 1] - kx[i])) for i in range(len(kx) - 1)])


def sawtooth_net(k: int) -> models.MLP:
  """T^k on [0, 1]: k hidden layers of 2 ReLUs, 6k + 1 parameters.

  Layer 1 holds relu(x) and relu(x - 1/2); each later layer holds relu(t) and
  relu(t - 1/2) of the previous tent t = 2 h_1 - 4 h_2; the head is that tent.
  """
  k = _positive_int('sawtooth_net: k', k, at_least=1,
                    at_most=MAX_SAWTOOTH_DEPTH)
  tent_of_prev = np.array([[2.0, 2.0], [-4.0, -4.0]])   # t, then t - 1/2.
  layers = [(np.array([[1.0, 1.0]]), np.array([0.0, -0.5]))]
  layers += [(tent_of_prev, np.array([0.0, -0.5]))] * (k - 1)
  layers += [(np.array([[2.0], [-4.0]]), np.array([0.0]))]
  return mlp_from_layers(layers)


def square_net(m: int) -> models.MLP:
  """Yarotsky's f_m: sup over [0, 1] of |f(x) - x^2| is 2^(-2m-2).

  A plain MLP of width 3: two units carry the tent cascade (relu(t),
  relu(t - 1/2), as in `sawtooth_net`), the third the partial sum
  g_s = x - sum_{r<=s} T^r / 4^r, which stays >= 0 on [0, 1] (it
  interpolates x^2 from above), so a ReLU passes it on unchanged. Layer 1
  needs no third unit: g_0 = x = relu(x). Parameters: 7 for m = 1, 12m - 7
  after.
  """
  m = _positive_int('square_net: m', m, at_least=1, at_most=MAX_SQUARE_DEPTH)
  layers = [(np.array([[1.0, 1.0]]), np.array([0.0, -0.5]))]
  # From [relu(t), relu(t - 1/2)] (and g) to the next layer: the tent
  # T = 2 h1 - 4 h2 twice, and g - T / 4^s.
  for s in range(1, m):
    g_in = np.array([1.0, 0.0]) if s == 1 else np.array([0.0, 0.0, 1.0])
    tent_rows = np.array([2.0, -4.0]) if s == 1 else np.array([2.0, -4.0, 0.0])
    w = np.stack([tent_rows, tent_rows, g_in - tent_rows / 4.0 ** s], axis=1)
    layers.append((w, np.array([0.0, -0.5, 0.0])))
  if m == 1:
    head = np.array([[1.0 - 2.0 / 4], [4.0 / 4]])        # x - T/4.
  else:
    head = np.array([[-2.0 / 4.0 ** m], [4.0 / 4.0 ** m], [1.0]])
  layers.append((head, np.array([0.0])))
  return mlp_from_layers(layers)


def _parity_layers(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
  """The XNOR tree as dense layers. Each group of inputs is represented by
  its even-parity indicator e (1 if the group holds an even number of ones),
  an affine function of the previous layer: e = c + w . h. Two groups merge
  with XNOR(e1, e2) = 1 - relu(e1 - e2) - relu(e2 - e1) (2 ReLUs); a group
  left over at an odd level passes through relu(e) = e (1 ReLU)."""
  # Leaves: the indicator of one bit is 1 - x_i, affine in the input.
  groups = [(1.0, -np.eye(n)[i]) for i in range(n)]
  layers = []
  while len(groups) > 1:
    fan_in = len(groups[0][1])
    cols, biases, next_groups = [], [], []
    for j in range(0, len(groups) - 1, 2):
      (c1, w1), (c2, w2) = groups[j], groups[j + 1]
      u = len(cols)
      cols += [w1 - w2, w2 - w1]
      biases += [c1 - c2, c2 - c1]
      next_groups.append((u, 'xnor'))
    if len(groups) % 2:
      c, w = groups[-1]
      next_groups.append((len(cols), 'pass'))
      cols.append(w)
      biases.append(c)
    width = len(cols)
    layers.append((np.stack(cols, axis=1).reshape(fan_in, width),
                   np.array(biases)))
    groups = []
    for u, kind in next_groups:
      w = np.zeros(width)
      if kind == 'xnor':
        w[u] = w[u + 1] = -1.0
        groups.append((1.0, w))
      else:
        w[u] = 1.0
        groups.append((0.0, w))
  (c, w), = groups
  layers.append((w[:, None], np.array([c])))
  return layers


def parity_net(n: int) -> models.MLP:
  """Parity of n bits by a balanced tree of XNOR gates, each 2 ReLUs, in
  ceil(log2 n) hidden layers: 1.0 for an even number of ones, 0.0 for odd."""
  n = _positive_int('parity_net: n', n, at_least=2, at_most=MAX_PARITY_BITS)
  return mlp_from_layers(_parity_layers(n))


def bitcount_parity_net(n: int) -> models.MLP:
  """Parity by one hidden layer on the bit count s = sum(x): the interpolant
  of [s even] at s = 0..n, n ReLUs. Neural units are stronger than AND/OR
  gates: this shallow net needs no 2^(n-1) terms."""
  n = _positive_int('bitcount_parity_net: n', n, at_least=2,
                    at_most=MAX_PARITY_BITS)
  counts = np.arange(n + 1, dtype=np.float64)
  inner = interpolant_net(counts, (counts % 2 == 0).astype(np.float64))
  w, b = inner.hidden[0].kernel[...], inner.hidden[0].bias[...]
  return mlp_from_layers([
      (np.repeat(np.asarray(w, np.float64), n, axis=0),
       np.asarray(b, np.float64)),
      (np.asarray(inner.head.kernel[...], np.float64),
       np.asarray(inner.head.bias[...], np.float64))])


def all_bit_strings(n: int) -> np.ndarray:
  """Every n-bit input, shape (2^n, n), uint8, in counting order."""
  n = _positive_int('n', n, at_least=1, at_most=MAX_PARITY_BITS)
  codes = np.arange(2 ** n, dtype=np.uint32)
  return ((codes[:, None] >> np.arange(n - 1, -1, -1)) & 1).astype(np.uint8)


def even_parity(bits) -> np.ndarray:
  """1.0 where a row has an even number of ones, else 0.0."""
  return (np.asarray(bits).sum(axis=-1) % 2 == 0).astype(np.float32)


def hidden_units(model: models.MLP) -> int:
  return int(sum(layer.kernel.shape[1] for layer in model.hidden))


def depth(model: models.MLP) -> int:
  return len(model.hidden)


def ceil_log2(n: int) -> int:
  return int(math.ceil(math.log2(n)))
