"""Parameter accounting for multilayer perceptrons.

Conventions: an MLP maps `input_dim` features through hidden layers of the
given widths to `output_dim` logits. Every layer is dense; `biases=True`
counts one bias per unit of every hidden and output layer, `biases=False`
counts weights only (the convention of Seide et al. 2011, whose 5x2048 and
1x3772 Switchboard networks, 429 inputs and 9304 outputs, match this way).

`mlp_param_count` is the closed form; `count_params` reads a model's own
parameters, and the tests check that the two agree.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

from deepvsshallow.errors import UsageError


@dataclasses.dataclass(frozen=True)
class WidthMatch:
  """A width chosen to meet a parameter target, and how far off it is.

  `relative_mismatch` is (param_count - target) / target: positive when the
  chosen net is larger than the target.
  """
  width: int
  param_count: int
  target: int
  rounding: str

  @property
  def relative_mismatch(self) -> float:
    return (self.param_count - self.target) / self.target


def _check_dims(input_dim: int, hidden_widths: Sequence[int], output_dim: int):
  if input_dim < 1 or output_dim < 1:
    raise UsageError(
        f'input_dim and output_dim must be >= 1, got {input_dim} and '
        f'{output_dim}.')
  if len(hidden_widths) < 1:
    raise UsageError('an MLP needs depth >= 1 (at least one hidden layer), '
                     'got no hidden widths.')
  bad = [w for w in hidden_widths if int(w) != w or w < 1]
  if bad:
    raise UsageError(f'hidden widths must be integers >= 1, got '
                     f'{list(hidden_widths)}.')


def mlp_param_count(input_dim: int, hidden_widths: Sequence[int],
                    output_dim: int, *, biases: bool = True) -> int:
  """Exact parameter count of a dense MLP (closed form)."""
  _check_dims(input_dim, hidden_widths, output_dim)
  dims = [input_dim, *hidden_widths, output_dim]
  weights = sum(a * b for a, b in zip(dims[:-1], dims[1:]))
  return weights + (sum(dims[1:]) if biases else 0)


def count_params(state) -> int:
  """Number of scalars in a pytree of parameters (e.g. `nnx.state(model)`)."""
  import jax  # Local import: params.py stays usable without a backend.
  return sum(int(math.prod(x.shape)) for x in jax.tree.leaves(state))


def model_param_count(model_fn) -> int:
  """Trainable (`nnx.Param`) scalars of `model_fn(rngs=...)`, from shapes
  alone (`nnx.eval_shape`): nothing is initialised or compiled."""
  from flax import nnx
  abstract = nnx.eval_shape(lambda: model_fn(rngs=nnx.Rngs(0)))
  return count_params(nnx.state(abstract, nnx.Param))


def shallow_match(input_dim: int, hidden_widths: Sequence[int],
                  output_dim: int, *, biases: bool = True) -> WidthMatch:
  """The one-hidden-layer width whose count is nearest the deep net's.

  Rounding: to the nearest count (ties go to the smaller width). A
  one-hidden-layer net has (input_dim + output_dim + biases) * w + biases *
  output_dim parameters, linear in w, so the nearest width is the rounded
  solution of that equation.
  """
  target = mlp_param_count(input_dim, hidden_widths, output_dim, biases=biases)
  per_unit = input_dim + output_dim + int(biases)
  fixed = output_dim if biases else 0
  lo = max(1, (target - fixed) // per_unit)
  candidates = [w for w in (lo, lo + 1) if w >= 1]
  width = min(candidates, key=lambda w: (abs(per_unit * w + fixed - target), w))
  return WidthMatch(width=width,
                    param_count=mlp_param_count(input_dim, [width], output_dim,
                                                biases=biases),
                    target=target, rounding='nearest')


def match_shallow_width(input_dim: int, hidden_widths: Sequence[int],
                        output_dim: int, *, biases: bool = True) -> int:
  """The one-hidden-layer width whose parameter count is nearest the deep net's.

  See `shallow_match` for the mismatch and the rounding rule.
  """
  return shallow_match(input_dim, hidden_widths, output_dim,
                       biases=biases).width


def budget_width(input_dim: int, depth: int, output_dim: int, budget: int, *,
                 biases: bool = True) -> WidthMatch:
  """The largest width of a depth-`depth` net (all hidden layers equal) that
  fits in `budget` parameters.

  Rounding: down, so the net never exceeds the budget. Raises `UsageError`
  when even width 1 is over budget.
  """
  if depth < 1:
    raise UsageError(f'depth must be >= 1, got {depth}.')
  smallest = mlp_param_count(input_dim, [1] * depth, output_dim, biases=biases)
  if budget < smallest:
    raise UsageError(
        f'a parameter budget of {budget} is below the smallest depth-{depth} '
        f'net ({smallest} parameters at width 1); raise the budget.')
  # count(w) = (L-1) w^2 + (in + out + L*b) w + b*out: solve the quadratic,
  # then step to the exact integer boundary (float roots can be off by one).
  a = depth - 1
  b = input_dim + output_dim + depth * int(biases)
  c = (output_dim if biases else 0) - budget
  w = int(-c / b) if a == 0 else int((-b + math.sqrt(b * b - 4 * a * c)) / (2 * a))
  w = max(w, 1)
  count = lambda w: mlp_param_count(input_dim, [w] * depth, output_dim,
                                    biases=biases)
  while count(w + 1) <= budget:
    w += 1
  while w > 1 and count(w) > budget:
    w -= 1
  return WidthMatch(width=w, param_count=count(w), target=budget,
                    rounding='down')


def cnn_param_count(image_shape: Sequence[int], channels: Sequence[int],
                    num_classes: int, *, kernel: int = 3) -> int:
  """Exact count of `models.CNN`: two SAME kxk convs (each followed by a 2x2
  max-pool) and a dense head on ceil(h/4) x ceil(w/4) x channels[-1]."""
  h, w, c = image_shape
  c1, c2 = channels
  conv = kernel * kernel * c * c1 + c1 + kernel * kernel * c1 * c2 + c2
  return conv + (-(-h // 4)) * (-(-w // 4)) * c2 * num_classes + num_classes


def cnn_channels_for_budget(image_shape: Sequence[int],
                            channels: Sequence[int], num_classes: int,
                            budget: int, *, kernel: int = 3) -> tuple[int, int]:
  """Both channel counts scaled by one factor so that the CNN's count is
  nearest `budget` (rounding: nearest count; ties to fewer channels)."""
  candidates = {
      tuple(max(1, round(c * f / 100)) for c in channels)
      for f in range(10, 1001)}
  return min(candidates, key=lambda ch: (
      abs(cnn_param_count(image_shape, ch, num_classes, kernel=kernel)
          - budget), ch))


# ------------------------------------------------ weight sharing (MNIST-1D)


def residual_mlp_param_count(input_dim: int, width: int,
                             num_classes: int) -> int:
  return (input_dim + 1) * width + (width + 1) * width + (width + 1) * (
      num_classes)


def cnn1d_param_count(length: int, channels: Sequence[int],
                      kernels: Sequence[int], strides: Sequence[int],
                      num_classes: int, input_channels: int = 1) -> int:
  """Each conv: c_in * c_out * k weights + c_out biases; SAME padding
  leaves ceil(L / s) positions; the head sees positions * channels."""
  count, c_in, length_out = 0, input_channels, length
  for c, k, s in zip(channels, kernels, strides):
    count += c_in * c * k + c
    c_in, length_out = c, -(-length_out // s)
  return count + (length_out * c_in + 1) * num_classes


def cnn1d_width_for_budget(length: int, kernels: Sequence[int],
                           strides: Sequence[int], num_classes: int,
                           budget: int, input_channels: int = 1) -> int:
  """The one channel count for every layer whose `models.CNN1D` count is
  nearest `budget` (ties to fewer channels)."""
  count = lambda c: cnn1d_param_count(length, (c,) * len(kernels), kernels,
                                      strides, num_classes, input_channels)
  return min(range(1, max(2, budget) + 1),
             key=lambda c: (abs(count(c) - budget), c))


def gru_param_count(length: int, hidden: int, num_classes: int, *,
                    input_dim: int = 1, bidirectional: bool = True) -> int:
  """torch.nn.GRU's count per direction, 3 (h * in + h * h + 2 h), and a
  head on every state of every direction."""
  dirs = 2 if bidirectional else 1
  cell = 3 * (hidden * input_dim + hidden * hidden + 2 * hidden)
  return dirs * cell + (length * dirs * hidden + 1) * num_classes


def shared_vs_unshared_weights(kind: str, size: int, steps: int = 3
                               ) -> tuple[int, int]:
  """The lecture's counts of what weight sharing saves, without biases.

  'conv': a kernel x kernel convolution on a kernel x kernel patch with one
  channel in and out (SAME padding, `size` = kernel) shares kernel^2
  weights across the patch's kernel^2 positions; a dense layer from the
  patch to as many outputs needs kernel^4. (3: 9 against 81.)
  'rnn': a state of `size` units driven for `steps` steps, with per-unit
  (diagonal) weights: the RNN shares one input weight vector and one
  recurrent one across steps (2 * size); a feed-forward unrolling has an
  input layer and its own recurrent weights at each later step
  (steps * size). (100 units, 3 steps: 200 against 300.)
  """
  if kind == 'conv':
    return size * size, size ** 4
  if kind == 'rnn':
    return 2 * size, steps * size
  raise ValueError(f'unknown kind {kind!r}; known: conv, rnn.')
