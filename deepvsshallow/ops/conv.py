"""Convolution and max-pooling written as matmuls and reshapes.

Channels last (`x` is (N, *spatial, C)), kernels (*window, C_in, C_out) as in
`flax.nnx.Conv`, SAME padding as in `jax.lax.conv_general_dilated`: a
stride-s axis of length L gives ceil(L / s) outputs, and the
max((ceil(L / s) - 1) * s + k - L, 0) zeros go floor(half) before and the
rest after.

`conv_same` builds the patches ("im2col"): the k^d shifted, strided views of
the padded input, concatenated on the channel axis in row-major window order,
times the kernel flattened to (k^d * C_in, C_out). Its backward is slices,
pads and adds, so no convolution runs in training. On CPU, XLA's convolution
at the channel counts of this project (1-32) is several times slower than the
same FLOPs as one matmul, in a population taken member by member as much as
vmapped (bench/bench_conv.py; BUILD_NOTES.md); `models.Conv` uses it on
CPU only. `max_pool_same` pads with
-inf to a multiple of the window and takes the max over a reshape; at ties
its gradient is shared equally among the tied inputs (reduce_window gives it
to one of them), which the ReLUs before this project's pools make zero.
"""

from __future__ import annotations

import itertools
from typing import Sequence

import jax
import jax.numpy as jnp
from jax import lax


def same_padding(length: int, window: int, stride: int) -> tuple[int, int]:
  """(before, after) zeros of SAME padding for one spatial axis."""
  out = -(-length // stride)
  total = max((out - 1) * stride + window - length, 0)
  return total // 2, total - total // 2


def conv_same(x: jax.Array, kernel: jax.Array, bias: jax.Array | None = None,
              strides: Sequence[int] | int = 1) -> jax.Array:
  """SAME convolution (cross-correlation, as in every deep-learning library)
  of x (N, *spatial, C_in) with kernel (*window, C_in, C_out), plus bias."""
  window = kernel.shape[:-2]
  d = len(window)
  if x.ndim != d + 2 or x.shape[-1] != kernel.shape[-2]:
    raise ValueError(f'conv_same: input {x.shape} does not fit kernel '
                     f'{kernel.shape} (want (N, *spatial, {kernel.shape[-2]}) '
                     f'with {d} spatial axes).')
  strides = (strides,) * d if isinstance(strides, int) else tuple(strides)
  spatial = x.shape[1:-1]
  outs = [-(-n // s) for n, s in zip(spatial, strides)]
  pads = [same_padding(n, k, s) for n, k, s in zip(spatial, window, strides)]
  xp = jnp.pad(x, ((0, 0), *pads, (0, 0)))
  views = []
  for offset in itertools.product(*(range(k) for k in window)):
    start = (0, *offset, 0)
    limit = (x.shape[0],
             *((o - 1) * s + i + 1 for o, s, i in zip(outs, strides, offset)),
             x.shape[-1])
    views.append(lax.slice(xp, start, limit, (1, *strides, 1)))
  patches = jnp.concatenate(views, axis=-1)
  y = patches @ kernel.reshape(-1, kernel.shape[-1])
  return y if bias is None else y + bias


def max_pool_same(x: jax.Array, window: int) -> jax.Array:
  """Max over non-overlapping windows (stride = window) with SAME padding,
  on every spatial axis of x (N, *spatial, C)."""
  spatial = x.shape[1:-1]
  pads = [same_padding(n, window, window) for n in spatial]
  x = jnp.pad(x, ((0, 0), *pads, (0, 0)), constant_values=-jnp.inf)
  shape = [x.shape[0]]
  for n in x.shape[1:-1]:
    shape += [n // window, window]
  x = x.reshape(*shape, x.shape[-1])
  return x.max(axis=tuple(range(2, 2 * len(spatial) + 1, 2)))
