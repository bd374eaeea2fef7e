"""Pallas kernel for bilinear sampling (GPU / TPU; interpret mode elsewhere).

Formulation (matrix-unit friendly, no gathers): for one image, with its pixels
flattened to q = (row, col) and its output points to p, bilinear sampling is

    out_PC = W_PQ @ img_QC,   W[p, q] = wy[p, row(q)] * wx[p, col(q)],

where wx[p, j] = (j == x0) * (1 - f) + (j == x0 + 1) * f with x0 = floor(x)
and f = x - x0 snapped to 0 or 1 within a few ulps (`deepvsshallow.ops.taps`;
likewise wy). W has 4 non-zeros per row; the kernel builds
it block by block from iota-like comparisons instead of storing it, and feeds
the blocks to `jnp.dot` (MXU on TPU, tensor cores on GPU). Out-of-image taps
simply match no pixel, which *is* the "zeros" boundary mode; "border" is done
by the caller by clipping the pixel coordinates beforehand.

When differentiated, the same loop also produces the Jacobian of the output
w.r.t. the pixel coordinates (replace wx by d wx / dx = -(j == x0) + (j == x0 + 1)), the
one-sided (right) derivative at integer coordinates. The VJP is then

    d_img_QC = W^T @ g_PC            (second kernel, gridded over pixel blocks)
    d_x_P    = sum_c g_PC * J^x_PC   (plain jnp)

Kernels are written with `ref[...]` indexing only. Blocks: `_BLOCK_P` output
points x `_BLOCK_Q` input pixels per step; a whole (padded) image or output
per image stays resident, so this targets the small images of spatial
transformers (e.g. 60x60 -> 28x28), not megapixel inputs.

Coordinates here are *pixel* coordinates (already unnormalised and, for the
"border" mode, clipped); see `deepvsshallow.ops.sampling` for the public API.
"""

from __future__ import annotations

import functools
from typing import Optional

import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import pallas as pl

from deepvsshallow.ops import taps

_BLOCK_P = 64  # output points per program / inner step
_BLOCK_Q = 256  # input pixels per inner step (multiple of 128: TPU lanes)
_MIN_CHANNELS = 16  # pad C so dots have N >= 16 (Triton's tl.dot minimum)
# Padding pixels get this row/col; coordinates are clamped to [-2, size + 1],
# so floor(coord) and floor(coord) + 1 can never equal it.
_SENTINEL = -8.0


def _round_up(x: int, m: int) -> int:
  return (x + m - 1) // m * m


def _next_pow2(x: int) -> int:
  return 1 << max(0, (x - 1).bit_length())


def _block_sizes(num_points: int, num_pixels: int):
  # Powers of two (Triton) and multiples of 8 / 128 (TPU sublanes / lanes).
  block_p = min(_BLOCK_P, max(16, _next_pow2(num_points)))
  block_q = min(_BLOCK_Q, max(128, _next_pow2(num_pixels)))
  return block_p, block_q


def _hat(index, start, frac):
  """Interpolation weight of `index` for a point at `start + frac`."""
  zero = jnp.zeros((), frac.dtype)
  return jnp.where(index == start, 1 - frac, zero) + jnp.where(
      index == start + 1, frac, zero
  )


def _dhat(index, start, dtype):
  """d _hat / d frac: -1 on the left tap, +1 on the right one."""
  one = jnp.ones((), dtype)
  zero = jnp.zeros((), dtype)
  return jnp.where(index == start + 1, one, zero) - jnp.where(
      index == start, one, zero
  )


def _forward_kernel(
    x_ref, y_ref, qrow_ref, qcol_ref, img_ref, out_ref, *jacobian_refs,
    block_q: int, num_q_blocks: int, in_hw: tuple[int, int],
):
  """One program: `block_p` output points of one image, all input pixels.

  With `jacobian_refs` (jx_ref, jy_ref) it also writes the Jacobian of the
  output w.r.t. the pixel coordinates (two more dots per step); without,
  it does the forward's one dot and nothing else.
  """
  x0, fx = taps.split(x_ref[...], in_hw[1])  # (block_p, 1)
  y0, fy = taps.split(y_ref[...], in_hw[0])
  dtype = fx.dtype
  jacobian = bool(jacobian_refs)

  def body(k, carry):
    qs = pl.multiple_of(k * block_q, block_q)
    rows = qrow_ref[:, pl.ds(qs, block_q)]  # (1, block_q)
    cols = qcol_ref[:, pl.ds(qs, block_q)]
    img = img_ref[pl.ds(qs, block_q), :]  # (block_q, C)
    wy = _hat(rows, y0, fy)  # (block_p, block_q)
    wx = _hat(cols, x0, fx)
    # HIGHEST: the default lowers to TF32 on GPU, which would round pixels and
    # weights to a 10-bit mantissa and break the exact identity.
    dot = lambda w: jnp.dot(w, img, preferred_element_type=dtype,
                            precision=lax.Precision.HIGHEST)
    if not jacobian:
      return (carry[0] + dot(wy * wx),)
    out, jx, jy = carry
    return (
        out + dot(wy * wx),
        jx + dot(wy * _dhat(cols, x0, dtype)),
        jy + dot(_dhat(rows, y0, dtype) * wx),
    )

  zeros = jnp.zeros(out_ref.shape, dtype)
  results = lax.fori_loop(0, num_q_blocks, body,
                          (zeros,) * (3 if jacobian else 1))
  for ref, value in zip((out_ref, *jacobian_refs), results):
    ref[...] = value.astype(ref.dtype)


def _backward_kernel(
    x_ref, y_ref, g_ref, qrow_ref, qcol_ref, dimg_ref, *,
    block_p: int, num_p_blocks: int, in_hw: tuple[int, int],
):
  """One program: `block_q` input pixels of one image, all output points."""
  rows = qrow_ref[...]  # (1, block_q)
  cols = qcol_ref[...]
  dtype = dimg_ref.dtype

  def body(k, acc):
    ps = pl.multiple_of(k * block_p, block_p)
    x0, fx = taps.split(x_ref[pl.ds(ps, block_p), :], in_hw[1])  # (block_p, 1)
    y0, fy = taps.split(y_ref[pl.ds(ps, block_p), :], in_hw[0])
    g = g_ref[pl.ds(ps, block_p), :]  # (block_p, C)
    w = _hat(rows, y0, fy) * _hat(cols, x0, fx)  # (block_p, block_q)
    # W^T @ g without materialising the transpose.
    return acc + lax.dot_general(
        w, g, (((0,), (0,)), ((), ())), preferred_element_type=dtype,
        precision=lax.Precision.HIGHEST,
    )

  acc = lax.fori_loop(0, num_p_blocks, body, jnp.zeros(dimg_ref.shape, dtype))
  dimg_ref[...] = acc


def _prepare_points(x_NHW, y_NHW, in_hw, block_p, dtype):
  """Pixel coordinates as (N, P_pad, 1) columns; padding points hit nothing."""
  h, w = in_hw
  n, ho, wo = x_NHW.shape
  num_p = ho * wo
  p_pad = _round_up(num_p, block_p)

  def column(v, size):
    # Clamping keeps inf/huge values finite without changing the result: a
    # coordinate below -1 or above `size` has no in-image tap either way.
    v = jnp.clip(v.astype(dtype), -2.0, size + 1.0).reshape(n, num_p, 1)
    return jnp.pad(v, ((0, 0), (0, p_pad - num_p), (0, 0)), constant_values=-2.0)

  return column(x_NHW, w), column(y_NHW, h)


def _prepare_pixels(in_hw, block_q, dtype):
  """(row, col) of each flattened input pixel as (1, Q_pad) rows."""
  h, w = in_hw
  num_q = h * w
  pad = _round_up(num_q, block_q) - num_q
  q = jnp.arange(num_q)
  qrow = jnp.pad((q // w).astype(dtype), (0, pad), constant_values=_SENTINEL)
  qcol = jnp.pad((q % w).astype(dtype), (0, pad), constant_values=_SENTINEL)
  return qrow[None, :], qcol[None, :]


def _channels(c: int, interpret: bool) -> int:
  """Channels a kernel computes: Triton's dots need N >= 16 and its loads
  and stores power-of-two sizes, so on GPU C is padded; in interpret mode
  (and on TPU, whose Mosaic takes any size) it is not, and 1-channel digits
  cost 1 channel. (The image rows of the gather kernel, H*W, are not padded:
  that block is indexed, not loaded whole; unverified on a GPU.)"""
  if interpret or jax.default_backend() != "gpu":
    return c
  return max(_MIN_CHANNELS, _next_pow2(c))


def _pad_channels_last(a_NLC, length, c_pad, dtype):
  """(N, L, C) -> (N, length, c_pad), zero padded."""
  _, l, c = a_NLC.shape
  return jnp.pad(a_NLC.astype(dtype), ((0, 0), (0, length - l), (0, c_pad - c)))


def _resolve_interpret(interpret: Optional[bool]) -> bool:
  if interpret is None:
    return jax.default_backend() not in ("gpu", "tpu")
  return interpret


def _compute_dtype(images_dtype, coord_dtype):
  return jnp.promote_types(jnp.promote_types(images_dtype, coord_dtype), jnp.float32)


def _layout(images_NHWC, x_NHW, y_NHW):
  """Block sizes, compute dtype, padded point columns and pixel rows."""
  _, h, w, _ = images_NHWC.shape
  _, ho, wo = x_NHW.shape
  block_p, block_q = _block_sizes(ho * wo, h * w)
  dtype = _compute_dtype(images_NHWC.dtype, x_NHW.dtype)
  x, y = _prepare_points(x_NHW, y_NHW, (h, w), block_p, dtype)
  qrow, qcol = _prepare_pixels((h, w), block_q, dtype)
  return block_p, block_q, dtype, x, y, qrow, qcol


def _forward(images_NHWC, x_NHW, y_NHW, interpret, jacobian: bool):
  """(out,) or, with `jacobian`, (out, d out/dx, d out/dy)."""
  n, h, w, c = images_NHWC.shape
  _, ho, wo = x_NHW.shape
  block_p, block_q, dtype, x, y, qrow, qcol = _layout(images_NHWC, x_NHW,
                                                      y_NHW)
  p_pad, q_pad = x.shape[1], qrow.shape[1]
  c_pad = _channels(c, interpret)
  img = _pad_channels_last(images_NHWC.reshape(n, h * w, c), q_pad, c_pad,
                           dtype)
  kernel = functools.partial(
      _forward_kernel, block_q=block_q, num_q_blocks=q_pad // block_q,
      in_hw=(h, w))
  point_spec = pl.BlockSpec((None, block_p, 1), lambda i, j: (i, j, 0))
  pixel_spec = pl.BlockSpec((1, q_pad), lambda i, j: (0, 0))
  out_spec = pl.BlockSpec((None, block_p, c_pad), lambda i, j: (i, j, 0))
  out_shape = jax.ShapeDtypeStruct((n, p_pad, c_pad), dtype)
  outputs = 3 if jacobian else 1
  results = pl.pallas_call(
      kernel,
      out_shape=(out_shape,) * outputs,
      grid=(n, p_pad // block_p),
      in_specs=[
          point_spec,
          point_spec,
          pixel_spec,
          pixel_spec,
          pl.BlockSpec((None, q_pad, c_pad), lambda i, j: (i, 0, 0)),
      ],
      out_specs=(out_spec,) * outputs,
      interpret=interpret,
      name="bilinear_sample_fwd" + ("_jacobian" if jacobian else ""),
  )(x, y, qrow, qcol, img)
  unpad = lambda a: a[:, : ho * wo, :c].reshape(n, ho, wo, c)
  return tuple(unpad(a) for a in results)


def _image_grad(images_NHWC, x_NHW, y_NHW, g_NHWC, interpret):
  n, h, w, c = images_NHWC.shape
  _, ho, wo = x_NHW.shape
  block_p, block_q, dtype, x, y, qrow, qcol = _layout(images_NHWC, x_NHW,
                                                      y_NHW)
  p_pad, q_pad = x.shape[1], qrow.shape[1]
  c_pad = _channels(c, interpret)
  g = _pad_channels_last(g_NHWC.reshape(n, ho * wo, c), p_pad, c_pad, dtype)
  kernel = functools.partial(
      _backward_kernel, block_p=block_p, num_p_blocks=p_pad // block_p,
      in_hw=(h, w))
  d_img = pl.pallas_call(
      kernel,
      out_shape=jax.ShapeDtypeStruct((n, q_pad, c_pad), dtype),
      grid=(n, q_pad // block_q),
      in_specs=[
          pl.BlockSpec((None, p_pad, 1), lambda i, j: (i, 0, 0)),
          pl.BlockSpec((None, p_pad, 1), lambda i, j: (i, 0, 0)),
          pl.BlockSpec((None, p_pad, c_pad), lambda i, j: (i, 0, 0)),
          pl.BlockSpec((1, block_q), lambda i, j: (0, j)),
          pl.BlockSpec((1, block_q), lambda i, j: (0, j)),
      ],
      out_specs=pl.BlockSpec((None, block_q, c_pad), lambda i, j: (i, j, 0)),
      interpret=interpret,
      name="bilinear_sample_bwd_image",
  )(x, y, g, qrow, qcol)
  return d_img[:, : h * w, :c].reshape(n, h, w, c)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _sample(interpret, images_NHWC, x_NHW, y_NHW):
  # Called without differentiation: the forward's work only.
  out, = _forward(images_NHWC, x_NHW, y_NHW, interpret, jacobian=False)
  return out.astype(images_NHWC.dtype)


def _sample_fwd(interpret, images_NHWC, x_NHW, y_NHW):
  out, jx, jy = _forward(images_NHWC, x_NHW, y_NHW, interpret, jacobian=True)
  # The images are kept only for their (static) shape and dtype.
  return out.astype(images_NHWC.dtype), (images_NHWC, x_NHW, y_NHW, jx, jy)


def _sample_bwd(interpret, residuals, g_NHWC):
  images_NHWC, x_NHW, y_NHW, jx, jy = residuals
  d_images = _image_grad(images_NHWC, x_NHW, y_NHW, g_NHWC, interpret)
  g = g_NHWC.astype(jx.dtype)
  d_x = jnp.sum(g * jx, axis=-1).astype(x_NHW.dtype)
  d_y = jnp.sum(g * jy, axis=-1).astype(y_NHW.dtype)
  return d_images.astype(images_NHWC.dtype), d_x, d_y


_sample.defvjp(_sample_fwd, _sample_bwd)


def bilinear_sample_pixels(
    images_NHWC: jax.Array,
    x_NHW: jax.Array,
    y_NHW: jax.Array,
    *,
    interpret: Optional[bool] = None,
) -> jax.Array:
  """Bilinear sampling at pixel coordinates with zero padding, via Pallas.

  Args:
    images_NHWC: (N, H_in, W_in, C) floating images.
    x_NHW: (N, H_out, W_out) column coordinates in pixels (0 = first column
      centre); taps outside [0, W_in - 1] read 0.
    y_NHW: (N, H_out, W_out) row coordinates in pixels.
    interpret: run the kernels in Pallas interpret mode; None = only when the
      default backend is neither GPU nor TPU.

  Returns:
    (N, H_out, W_out, C), dtype of `images_NHWC`; differentiable w.r.t. all
    three arrays (custom VJP with a second kernel for the image gradient).
  """
  return _sample(_resolve_interpret(interpret), images_NHWC, x_NHW, y_NHW)



# ----------------------------------------------------------------------------
# The gather kernel: 4 tap loads per output point, no dense weight matrix.
# ----------------------------------------------------------------------------

def _gather_kernel(x_ref, y_ref, img_ref, out_ref, *jacobian_refs,
                   in_hw: tuple[int, int]):
  """One program: `block_p` output points of one image. Each point loads its
  4 taps by integer indexing of the image ref; the weights (and, when
  differentiating, the coordinate Jacobian) stay in registers: O(points)
  work, against the dense kernel's O(points x pixels)."""
  h, w = in_hw
  x0, fx, y0, fy = taps.start_and_fraction(x_ref[...], y_ref[...], h, w)
  values = []
  for dy, dx in taps.CORNERS:
    index, valid = taps.corner(x0, y0, dx, dy, h, w)   # (block_p, 1)
    v = img_ref[index[:, 0], :]                         # (block_p, C)
    values.append(jnp.where(valid, v, jnp.zeros((), v.dtype)))
  top, bottom, out = taps.interpolate(*values, fx, fy)
  out_ref[...] = out.astype(out_ref.dtype)
  if jacobian_refs:
    jx_ref, jy_ref = jacobian_refs
    jx, jy = taps.coordinate_jacobian(*values, fy, top, bottom)
    jx_ref[...] = jx.astype(jx_ref.dtype)
    jy_ref[...] = jy.astype(jy_ref.dtype)


def _gather_forward(images_NHWC, x_NHW, y_NHW, interpret, jacobian: bool):
  n, h, w, c = images_NHWC.shape
  _, ho, wo = x_NHW.shape
  block_p = min(_BLOCK_P, max(16, _next_pow2(ho * wo)))
  dtype = _compute_dtype(images_NHWC.dtype, x_NHW.dtype)
  x, y = _prepare_points(x_NHW, y_NHW, (h, w), block_p, dtype)
  p_pad = x.shape[1]
  # Triton loads and stores power-of-two blocks: channels padded on GPU.
  c_pad = _channels(c, interpret)
  img = _pad_channels_last(images_NHWC.reshape(n, h * w, c), h * w, c_pad,
                           dtype)
  point_spec = pl.BlockSpec((None, block_p, 1), lambda i, j: (i, j, 0))
  out_spec = pl.BlockSpec((None, block_p, c_pad), lambda i, j: (i, j, 0))
  outputs = 3 if jacobian else 1
  results = pl.pallas_call(
      functools.partial(_gather_kernel, in_hw=(h, w)),
      out_shape=(jax.ShapeDtypeStruct((n, p_pad, c_pad), dtype),) * outputs,
      grid=(n, p_pad // block_p),
      in_specs=[point_spec, point_spec,
                pl.BlockSpec((None, h * w, c_pad), lambda i, j: (i, 0, 0))],
      out_specs=(out_spec,) * outputs,
      interpret=interpret,
      name="bilinear_gather_fwd" + ("_jacobian" if jacobian else ""),
  )(x, y, img)
  return tuple(a[:, :ho * wo, :c].reshape(n, ho, wo, c) for a in results)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _gather_sample(interpret, images_NHWC, x_NHW, y_NHW):
  out, = _gather_forward(images_NHWC, x_NHW, y_NHW, interpret, jacobian=False)
  return out.astype(images_NHWC.dtype)


def _gather_sample_fwd(interpret, images_NHWC, x_NHW, y_NHW):
  out, jx, jy = _gather_forward(images_NHWC, x_NHW, y_NHW, interpret,
                                jacobian=True)
  return out.astype(images_NHWC.dtype), (images_NHWC, x_NHW, y_NHW, jx, jy)


def _gather_sample_bwd(interpret, residuals, g_NHWC):
  """Image gradient: a sorted segment sum in jnp (an atomic-add kernel is
  the alternative the issue names; neither is measured on a GPU here).
  Coordinate gradient: from the Jacobian the forward kernel kept."""
  del interpret
  images_NHWC, x_NHW, y_NHW, jx, jy = residuals
  n, h, w, c = images_NHWC.shape
  idx, valid, fx, fy = taps.batch_corners(x_NHW.astype(jx.dtype),
                                          y_NHW.astype(jx.dtype), h, w)
  g = g_NHWC.astype(jx.dtype)
  d_images = taps.scatter_image_gradient(idx, valid, fx, fy, g, n * h * w)
  return (d_images.reshape(n, h, w, c).astype(images_NHWC.dtype),
          jnp.sum(g * jx, -1).astype(x_NHW.dtype),
          jnp.sum(g * jy, -1).astype(y_NHW.dtype))


_gather_sample.defvjp(_gather_sample_fwd, _gather_sample_bwd)


def bilinear_gather_pixels(
    images_NHWC: jax.Array,
    x_NHW: jax.Array,
    y_NHW: jax.Array,
    *,
    interpret: Optional[bool] = None,
) -> jax.Array:
  """Bilinear sampling at pixel coordinates with zero padding, via the
  Pallas gather kernel (GPU through Triton; interpret mode on CPU). Same
  arguments and result as `bilinear_sample_pixels`."""
  return _gather_sample(_resolve_interpret(interpret), images_NHWC, x_NHW,
                        y_NHW)
