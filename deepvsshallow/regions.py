"""Linear pieces and regions of piecewise-linear networks.

`count_linear_pieces(model, lo, hi)` is exact for a `models.MLP` with a 1-D
input and ReLU or hard-sigmoid activations: it traces the breakpoints layer
by layer in float64. On each interval every unit's pre-activation is an
affine function a x + c of the input; a unit splits the interval where it
crosses a kink of its activation (0 for ReLU; 0 and 1 for the hard sigmoid),
and on each sub-interval the activation is affine again. At the end adjacent
intervals whose output slopes agree are merged, since a kink of a hidden unit
need not bend the output. A piece is a maximal interval on which the network
is affine.

`count_regions_2d_exact(model, lo, hi)` counts the activation regions of a
2-D-input ReLU `models.MLP` that meet a square exactly, by splitting the
square into polygons layer by layer.

`count_regions_2d(model, lo, hi, resolution)` counts the distinct activation
patterns on a grid over a square of a 2-D input space. A grid can miss a
region smaller than its spacing, so it is a lower bound on the number of
linear regions the square meets.
"""

from __future__ import annotations

import numpy as np

from deepvsshallow import models
from deepvsshallow.errors import UsageError

# Kinks of each activation, in its pre-activation.
KINKS = {'relu': (0.0,), 'hard_sigmoid': (0.0, 1.0)}


def dense_layers(model) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
  """([(W, b) per layer, the head last], activation) in float64."""
  if not isinstance(model, models.MLP):
    raise UsageError(f'piece and region counts need a models.MLP, got '
                     f'{type(model).__name__}.')
  layers = [(np.asarray(d.kernel[...], np.float64),
             np.asarray(d.bias[...], np.float64))
            for d in [*model.hidden, model.head]]
  return layers, model.activation


def _activate(z, activation: str):
  if activation == 'relu':
    return np.maximum(z, 0.0)
  if activation == 'hard_sigmoid':
    return np.clip(z, 0.0, 1.0)
  raise UsageError(f'piece and region counts need ReLU or hard-sigmoid '
                   f'activations (piecewise linear); got {activation!r}.')


def forward(model, x_ND) -> np.ndarray:
  """The model in float64 numpy: inputs (N, d) to outputs (N, K)."""
  layers, activation = dense_layers(model)
  h = np.asarray(x_ND, np.float64).reshape(len(x_ND), -1)
  for w, b in layers[:-1]:
    h = _activate(h @ w + b, activation)
  w, b = layers[-1]
  return h @ w + b


def _check_1d(model, lo, hi):
  layers, activation = dense_layers(model)
  if activation not in KINKS:
    _activate(np.zeros(1), activation)   # Raises the usage error.
  input_dim, outputs = layers[0][0].shape[0], layers[-1][0].shape[1]
  if input_dim != 1:
    raise UsageError(f'count_linear_pieces needs a model with a 1-D input; '
                     f'got input dimension {input_dim}. Use '
                     'count_regions_2d for 2-D inputs.')
  if outputs != 1:
    raise UsageError(f'count_linear_pieces needs one output; got {outputs}.')
  lo, hi = float(lo), float(hi)
  if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
    raise UsageError(f'count_linear_pieces needs finite lo < hi, got '
                     f'[{lo}, {hi}].')
  return layers, activation, lo, hi


def _pre_activations(layers, activation: str, x_i):
  """The last layer's pre-activations as affine maps of the input, za x + zc,
  linearised around each point x_i (activation patterns taken there).
  Shapes (points, units)."""
  a = np.ones((len(x_i), 1))
  c = np.zeros((len(x_i), 1))
  for li, (w, b) in enumerate(layers):
    za, zc = a @ w, c @ w + b
    if li == len(layers) - 1:
      return za, zc
    z = za * x_i[:, None] + zc
    if activation == 'relu':
      on = (z > 0).astype(np.float64)
      a, c = za * on, zc * on
    else:  # hard_sigmoid: 0, then z, then 1.
      mid = ((z > 0) & (z < 1)).astype(np.float64)
      a, c = za * mid, zc * mid + (z >= 1)
  raise AssertionError('unreachable')


def linear_pieces(model, lo: float, hi: float, *, rtol: float = 1e-9
                  ) -> tuple[np.ndarray, np.ndarray]:
  """(edges, slopes): the model's pieces on [lo, hi], as the sorted piece
  edges (lo and hi included, len = pieces + 1) and each piece's slope."""
  layers, activation, lo, hi = _check_1d(model, lo, hi)
  tol = rtol * (hi - lo)
  edges = np.array([lo, hi])
  for li in range(len(layers) - 1):
    mids = (edges[:-1] + edges[1:]) / 2
    za, zc = _pre_activations(layers[:li + 1], activation, mids)
    found = [edges]
    for knot in KINKS[activation]:
      with np.errstate(divide='ignore', invalid='ignore'):
        roots = (knot - zc) / za
      inside = ((za != 0) & (roots > edges[:-1, None] + tol)
                & (roots < edges[1:, None] - tol))
      found.append(roots[inside])
    edges = np.unique(np.concatenate(found))
    # Roots of different units that agree up to rounding are one kink.
    edges = edges[np.concatenate([[True], np.diff(edges) > tol])]
    edges[-1] = hi
  mids = (edges[:-1] + edges[1:]) / 2
  slopes = _pre_activations(layers, activation, mids)[0][:, 0]
  # A hidden unit's kink bends the output only if the slope changes there.
  scale = max(1.0, float(np.abs(slopes).max()))
  bends = np.abs(np.diff(slopes)) > rtol * scale
  keep = np.concatenate([[True], bends])
  return (np.concatenate([edges[:-1][keep], [hi]]), slopes[keep])


def count_linear_pieces(model, lo: float, hi: float) -> int:
  """The exact number of linear pieces of a 1-D-input ReLU or hard-sigmoid
  `models.MLP` on [lo, hi] (breakpoints traced layer by layer, float64)."""
  return len(linear_pieces(model, lo, hi)[1])


def activation_patterns(model, x_ND) -> np.ndarray:
  """Each input's pattern, (N, hidden units) int8: for ReLU 1 where a unit is
  on; for the hard sigmoid 0 below, 1 on the ramp, 2 above."""
  layers, activation = dense_layers(model)
  if activation not in KINKS:
    _activate(np.zeros(1), activation)
  h = np.asarray(x_ND, np.float64).reshape(len(x_ND), -1)
  codes = []
  for w, b in layers[:-1]:
    z = h @ w + b
    codes.append((z > 0).astype(np.int8) + (
        (z >= 1) if activation == 'hard_sigmoid' else 0))
    h = _activate(z, activation)
  return np.concatenate(codes, axis=1)


def count_regions_2d(model, lo: float, hi: float, resolution: int = 512
                     ) -> int:
  """Distinct activation patterns on a resolution x resolution grid over
  [lo, hi]^2: a lower bound on the linear regions meeting the square."""
  layers, _ = dense_layers(model)
  if layers[0][0].shape[0] != 2:
    raise UsageError(f'count_regions_2d needs a model with a 2-D input; got '
                     f'input dimension {layers[0][0].shape[0]}.')
  if not (isinstance(resolution, int) and resolution >= 2):
    raise UsageError(f'resolution must be an integer >= 2, got '
                     f'{resolution!r}.')
  g = np.linspace(float(lo), float(hi), resolution)
  xx, yy = np.meshgrid(g, g)
  patterns = activation_patterns(model, np.c_[xx.ravel(), yy.ravel()])
  return len(np.unique(pattern_keys(patterns)))


def pattern_keys(patterns) -> np.ndarray:
  """One hashable, exact key per pattern row: its bit-planes packed into
  bytes and viewed as a single void scalar (np.unique on rows is slow)."""
  planes = np.concatenate([patterns >= 1, patterns >= 2], axis=1)
  packed = np.ascontiguousarray(np.packbits(planes, axis=1))
  return packed.view(np.dtype((np.void, packed.shape[1])))[:, 0]


def max_pieces_1d(hidden_widths) -> int:
  """An upper bound on the pieces of a 1-D-input ReLU MLP: each layer of w
  units multiplies the pieces by at most w + 1 (a piece is cut at most once
  per unit). Exact for one hidden layer: w + 1."""
  return int(np.prod([w + 1 for w in hidden_widths]))


def _split(poly, a, c, tol):
  """Convex polygon `poly` (k, 2) cut by the line a.x + c = 0: (part where
  a.x + c > 0, part where < 0); either is None when empty."""
  s = poly @ a + c
  if np.all(s >= -tol):
    return poly, None
  if np.all(s <= tol):
    return None, poly
  pos, neg = [], []
  k = len(poly)
  for i in range(k):
    p, q, sp, sq = poly[i], poly[(i + 1) % k], s[i], s[(i + 1) % k]
    if sp >= -tol:
      pos.append(p)
    if sp <= tol:
      neg.append(p)
    if (sp > tol and sq < -tol) or (sp < -tol and sq > tol):
      cut = p + (q - p) * (sp / (sp - sq))
      pos.append(cut)
      neg.append(cut)
  pos, neg = np.array(pos), np.array(neg)
  return (pos if len(pos) >= 3 else None), (neg if len(neg) >= 3 else None)


def _area(poly) -> float:
  x, y = poly[:, 0], poly[:, 1]
  return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def count_regions_2d_exact(model, lo: float, hi: float) -> int:
  """The exact number of activation regions of a 2-D-input ReLU `models.MLP`
  that meet the square [lo, hi]^2: the square is split layer by layer, each
  region by each unit's line (on a region the unit's pre-activation is
  affine in the input), in float64. Each final polygon is one activation
  pattern: a pattern's region is convex, so it is one polygon."""
  layers, activation = dense_layers(model)
  if activation != 'relu':
    raise UsageError(f'count_regions_2d_exact needs ReLU activations, got '
                     f'{activation!r}.')
  if layers[0][0].shape[0] != 2:
    raise UsageError(f'count_regions_2d_exact needs a model with a 2-D input; '
                     f'got input dimension {layers[0][0].shape[0]}.')
  lo, hi = float(lo), float(hi)
  if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
    raise UsageError(f'count_regions_2d_exact needs finite lo < hi, got '
                     f'[{lo}, {hi}].')
  square = np.array([[lo, lo], [hi, lo], [hi, hi], [lo, hi]])
  tol = 1e-12 * (hi - lo)
  min_area = 1e-24 * (hi - lo) ** 2
  # Each region: (polygon, P, q) with the layer's input h = x @ P + q on it.
  current = [(square, np.eye(2), np.zeros(2))]
  for w, b in layers[:-1]:
    nxt = []
    for poly, p_mat, q_vec in current:
      a_mat, c_vec = p_mat @ w, q_vec @ w + b   # Pre-activations x @ a + c.
      pieces = [(poly, np.zeros(w.shape[1], bool))]
      for j in range(w.shape[1]):
        cut = []
        for piece, on in pieces:
          pos, neg = _split(piece, a_mat[:, j], c_vec[j], tol)
          for part, sign in ((pos, True), (neg, False)):
            if part is not None and _area(part) > min_area:
              pattern = on.copy()
              pattern[j] = sign
              cut.append((part, pattern))
        pieces = cut
      for piece, on in pieces:
        nxt.append((piece, a_mat * on, c_vec * on))
    current = nxt
  return len(current)
