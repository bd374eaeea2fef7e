"""Affine grids and differentiable image sampling (spatial-transformer ops).

Pure JAX re-implementation of ``torch.nn.functional.affine_grid`` and
``torch.nn.functional.grid_sample`` (modes ``bilinear`` and ``nearest``,
padding modes ``zeros`` and ``border``), in NHWC layout.

Coordinate convention (same as PyTorch):

* A sampling grid ``grid_NHW2`` holds normalised coordinates, **x first**:
  ``grid[..., 0]`` is the horizontal position (along the image width) and
  ``grid[..., 1]`` the vertical one (along the height). ``-1`` and ``+1`` are
  the two ends of the input image.
* ``align_corners=True``: -1 and +1 are the *centres* of the corner pixels, so
  ``x_pix = (x + 1) / 2 * (W - 1)``.
* ``align_corners=False``: -1 and +1 are the outer *edges* of the corner
  pixels, so ``x_pix = ((x + 1) * W - 1) / 2``.

Boundary (padding) modes, applied to the unnormalised pixel coordinate:

* ``"zeros"``: taps outside ``[0, W-1] x [0, H-1]`` read 0.
* ``"border"``: the pixel coordinate is clipped to ``[0, W-1]`` (resp.
  ``[0, H-1]``) before the interpolation weights are computed; the gradient
  through the clip is zero at and beyond the limits, as in PyTorch.

Gradients of :func:`bilinear_sample` use ``x0 = floor(x)``, ``x1 = x0 + 1``, so
the derivative w.r.t. a coordinate that lies exactly on a pixel centre is the
one-sided (right) derivative, never 0 by accident (a ``floor``/``ceil`` pair
would give ``x0 == x1`` there and lose the gradient).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Optional

import jax
import jax.numpy as jnp

from deepvsshallow.ops import pallas_sampling

PADDING_MODES = ("zeros", "border")
IMPLEMENTATIONS = (None, "jnp", "pallas")


# ----------------------------------------------------------------------------
# Validation.
# ----------------------------------------------------------------------------


def _check_floating(name: str, x: jax.Array) -> None:
  if not jnp.issubdtype(x.dtype, jnp.floating):
    raise ValueError(
        f"{name} must have a floating dtype, got {x.dtype} "
        f"(shape {tuple(x.shape)})."
    )


def _check_padding_mode(padding_mode: str) -> None:
  if padding_mode not in PADDING_MODES:
    raise ValueError(
        f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}."
    )


def _check_images_and_grid(images: jax.Array, grid: jax.Array) -> None:
  """Checks ranks, shapes and dtypes of (images_NHWC, grid_NHW2)."""
  if images.ndim != 4:
    raise ValueError(
        "images must be rank 4 (N, H_in, W_in, C) in NHWC layout, got shape "
        f"{tuple(images.shape)}."
    )
  if grid.ndim != 4 or grid.shape[-1] != 2:
    raise ValueError(
        "grid must have shape (N, H_out, W_out, 2) with (x, y) in the last "
        f"dimension, got shape {tuple(grid.shape)}."
    )
  if images.shape[0] != grid.shape[0]:
    raise ValueError(
        f"images and grid must have the same batch size, got images shape "
        f"{tuple(images.shape)} and grid shape {tuple(grid.shape)}."
    )
  if min(images.shape[1:]) < 1:
    raise ValueError(
        f"images must have non-empty H_in, W_in and C, got shape "
        f"{tuple(images.shape)}."
    )
  _check_floating("images", images)
  _check_floating("grid", grid)


# ----------------------------------------------------------------------------
# affine_grid.
# ----------------------------------------------------------------------------


def _linspace_from_neg_one(num_steps: int, align_corners: bool, dtype):
  """Normalised pixel-centre positions along one axis (torch's convention)."""
  if num_steps <= 1:
    # torch returns the single coordinate 0 (the image centre) for size 1.
    return jnp.zeros((num_steps,), dtype)
  steps = jnp.linspace(-1.0, 1.0, num_steps, dtype=dtype)
  if not align_corners:
    # Pixel centres sit half a pixel inside the [-1, 1] edges.
    steps = steps * ((num_steps - 1) / num_steps)
  return steps


def affine_grid(
    theta: jax.Array,
    size: Sequence[int],
    *,
    align_corners: bool = False,
) -> jax.Array:
  """Sampling grid for a batch of 2-D affine transforms.

  Equivalent to ``torch.nn.functional.affine_grid`` with the output size
  given in NHWC order. Output pixel ``(i, j)`` has normalised position
  ``(x_j, y_i)`` in ``[-1, 1]`` (see the module docstring for what -1/+1 mean
  under ``align_corners``) and is mapped to
  ``theta @ [x_j, y_i, 1]^T``.

  Args:
    theta: (N, 2, 3) floating affine matrices, mapping output coordinates to
      input coordinates (both normalised).
    size: (N, H, W, C) of the output image; only N, H, W are used.
    align_corners: see the module docstring.

  Returns:
    grid_NHW2: (N, H, W, 2), ``grid[..., 0]`` = x (width), ``[..., 1]`` = y.
  """
  theta = jnp.asarray(theta)
  if theta.ndim != 3 or theta.shape[1:] != (2, 3):
    raise ValueError(
        f"theta must have shape (N, 2, 3), got shape {tuple(theta.shape)}."
    )
  _check_floating("theta", theta)
  try:
    size = tuple(int(s) for s in size)
  except TypeError:
    raise ValueError(
        f"size must be a sequence (N, H, W, C) of 4 ints, got {size!r}."
    ) from None
  if len(size) != 4 or min(size) < 1:
    raise ValueError(
        "size must be (N, H, W, C) with 4 positive entries, got "
        f"{size}."
    )
  n, h, w, _ = size
  if theta.shape[0] != n:
    raise ValueError(
        f"theta batch size must equal size[0]: theta shape "
        f"{tuple(theta.shape)}, size {size}."
    )
  xs_W = _linspace_from_neg_one(w, align_corners, theta.dtype)
  ys_H = _linspace_from_neg_one(h, align_corners, theta.dtype)
  # Broadcasting instead of a batched (HW x 3) @ (3 x 2) matmul: it is exact
  # elementwise work that XLA fuses, and small batched matmuls are slow on CPU.
  t = theta[:, :, :, None, None]  # (N, 2, 3, 1, 1)
  x_11W = xs_W[None, None, :]
  y_1H1 = ys_H[None, :, None]
  gx_NHW = t[:, 0, 0] * x_11W + t[:, 0, 1] * y_1H1 + t[:, 0, 2]
  gy_NHW = t[:, 1, 0] * x_11W + t[:, 1, 1] * y_1H1 + t[:, 1, 2]
  return jnp.stack([gx_NHW, gy_NHW], axis=-1)


# ----------------------------------------------------------------------------
# Coordinate helpers.
# ----------------------------------------------------------------------------


def unnormalize(coord: jax.Array, size: int, *, align_corners: bool):
  """Maps normalised coordinates in [-1, 1] to pixel coordinates in [0, size-1].

  ``align_corners=True``: ``(c + 1) / 2 * (size - 1)``;
  ``align_corners=False``: ``((c + 1) * size - 1) / 2``.
  """
  if align_corners:
    return (coord + 1) / 2 * (size - 1)
  return ((coord + 1) * size - 1) / 2


def _clip_like_torch(coord: jax.Array, size: int) -> jax.Array:
  """Clips pixel coordinates to [0, size-1] for the "border" mode.

  Written with `where` rather than `jnp.clip` so that the gradient is 0 at the
  limits themselves (torch's ``clip_coordinates_set_grad``); `jnp.clip` would
  split it 0.5/0.5 there.
  """
  upper = size - 1
  zero = jnp.zeros((), coord.dtype)
  return jnp.where(
      coord <= 0, zero, jnp.where(coord >= upper, jnp.asarray(upper, coord.dtype), coord)
  )


def grid_to_pixels(
    grid: jax.Array,
    in_hw: tuple[int, int],
    *,
    padding_mode: str,
    align_corners: bool,
):
  """Pixel coordinates (x_NHW, y_NHW) of a grid, after the padding-mode clip."""
  h, w = in_hw
  x = unnormalize(grid[..., 0], w, align_corners=align_corners)
  y = unnormalize(grid[..., 1], h, align_corners=align_corners)
  if padding_mode == "border":
    x = _clip_like_torch(x, w)
    y = _clip_like_torch(y, h)
  return x, y


# ----------------------------------------------------------------------------
# Bilinear sampling, portable jnp implementation (gather / scatter-add).
# ----------------------------------------------------------------------------

# The four bilinear taps, as (dy, dx) offsets from (floor(y), floor(x)).
_TAPS = ((0, 0), (0, 1), (1, 0), (1, 1))


def _taps(x_NHW, y_NHW, in_hw):
  """Flat indices, validity and bilinear weights of the 4 taps.

  Returns a list over `_TAPS` of (flat_index_NHW, valid_NHW, weight_NHW).
  Indices point into the images reshaped to (N * H_in * W_in, C) and are
  always in range (clamped); taps outside the image are flagged invalid and
  get weight 0 instead, which is the "zeros" boundary mode (for "border" the
  coordinates were clipped before, so only zero-weight taps can fall outside).
  """
  h, w = in_hw
  n = x_NHW.shape[0]
  # Clamping before the int cast keeps huge/inf coordinates well defined; a
  # coordinate below -1 or above the size has no in-range tap either way.
  x = jnp.clip(x_NHW, -2.0, w + 1.0)
  y = jnp.clip(y_NHW, -2.0, h + 1.0)
  x0 = jnp.floor(x)
  y0 = jnp.floor(y)
  # (x1 - x) and (x - x0) with x1 = x0 + 1 (not ceil(x)), as torch does.
  wx = (x0 + 1 - x, x - x0)
  wy = (y0 + 1 - y, y - y0)
  base_N11 = (jnp.arange(n, dtype=jnp.int32) * (h * w))[:, None, None]
  taps = []
  for dy, dx in _TAPS:
    xi = x0 + dx
    yi = y0 + dy
    valid = (xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1)
    idx = (
        base_N11
        + jnp.clip(yi, 0, h - 1).astype(jnp.int32) * w
        + jnp.clip(xi, 0, w - 1).astype(jnp.int32)
    )
    weight = jnp.where(valid, wy[dy] * wx[dx], jnp.zeros((), x.dtype))
    taps.append((idx, valid, weight))
  return taps


def _jnp_forward(images_NHWC, x_NHW, y_NHW):
  """Output and its Jacobian w.r.t. the pixel coordinates (x, y).

  The Jacobian is computed here, from the gathered tap values, so that the
  backward pass does not gather again: d out/dx = (1-fy)(v01-v00) + fy(v11-v10).
  """
  n, h, w, c = images_NHWC.shape
  dtype = jnp.result_type(images_NHWC.dtype, x_NHW.dtype)
  flat_MC = images_NHWC.reshape(n * h * w, c)
  taps = _taps(x_NHW, y_NHW, (h, w))
  out = 0
  v = []
  for idx, valid, weight in taps:
    # Out-of-range taps read 0 for the Jacobian too (a zero weight alone is
    # not enough: at x == x0 the x1 tap has weight 0 but enters d/dx).
    val = flat_MC.at[idx].get(mode="promise_in_bounds").astype(dtype)
    val = jnp.where(valid[..., None], val, jnp.zeros((), dtype))
    v.append(val)
    out = out + weight[..., None].astype(dtype) * val
  v00, v01, v10, v11 = v
  # Fractional parts, unmasked (the tap weights are masked by validity).
  x = jnp.clip(x_NHW, -2.0, w + 1.0)
  y = jnp.clip(y_NHW, -2.0, h + 1.0)
  fx = (x - jnp.floor(x))[..., None].astype(dtype)
  fy = (y - jnp.floor(y))[..., None].astype(dtype)
  dout_dx = (1 - fy) * (v01 - v00) + fy * (v11 - v10)
  dout_dy = (1 - fx) * (v10 - v00) + fx * (v11 - v01)
  return out, dout_dx, dout_dy


@jax.custom_vjp
def _bilinear_pixels_jnp(images_NHWC, x_NHW, y_NHW):
  out, _, _ = _jnp_forward(images_NHWC, x_NHW, y_NHW)
  return out.astype(images_NHWC.dtype)


def _bilinear_pixels_jnp_fwd(images_NHWC, x_NHW, y_NHW):
  out, dout_dx, dout_dy = _jnp_forward(images_NHWC, x_NHW, y_NHW)
  # The images are kept only for their (static) shape and dtype.
  residuals = (images_NHWC, x_NHW, y_NHW, dout_dx, dout_dy)
  return out.astype(images_NHWC.dtype), residuals


def _bilinear_pixels_jnp_bwd(residuals, g_NHWC):
  images_NHWC, x_NHW, y_NHW, dout_dx, dout_dy = residuals
  shape, dtype = images_NHWC.shape, images_NHWC.dtype
  n, h, w, c = shape
  # Image gradient: scatter-add of cotangent * weight into the 4 taps. Four
  # chained in-place scatters beat one scatter of the concatenated taps on CPU
  # (no concatenation copies) -- see bench/bench_sampler.py.
  d_flat = jnp.zeros((n * h * w, c), dtype)
  for idx, _, weight in _taps(x_NHW, y_NHW, (h, w)):
    upd = (g_NHWC * weight[..., None]).astype(dtype)
    d_flat = d_flat.at[idx].add(upd, mode="promise_in_bounds")
  d_images = d_flat.reshape(shape)
  d_x = jnp.sum(g_NHWC * dout_dx, axis=-1).astype(x_NHW.dtype)
  d_y = jnp.sum(g_NHWC * dout_dy, axis=-1).astype(y_NHW.dtype)
  return d_images, d_x, d_y


_bilinear_pixels_jnp.defvjp(_bilinear_pixels_jnp_fwd, _bilinear_pixels_jnp_bwd)


def _default_implementation() -> str:
  return "pallas" if jax.default_backend() in ("gpu", "tpu") else "jnp"


def bilinear_sample(
    images: jax.Array,
    grid: jax.Array,
    *,
    padding_mode: str = "zeros",
    align_corners: bool = False,
    implementation: Optional[str] = None,
) -> jax.Array:
  """Bilinearly samples `images` at `grid` (``torch ... grid_sample``, NHWC).

  Args:
    images: (N, H_in, W_in, C) floating images, NHWC.
    grid: (N, H_out, W_out, 2) floating normalised coordinates, x first
      (``grid[..., 0]`` along the width, ``grid[..., 1]`` along the height);
      see the module docstring for the convention.
    padding_mode: "zeros" (out-of-image taps read 0) or "border" (pixel
      coordinates clipped to the image before interpolating).
    align_corners: whether -1/+1 are corner-pixel centres (True) or edges.
    implementation: None (pick by backend: the Pallas kernel on GPU/TPU, the
      portable jnp gather/scatter path elsewhere), "jnp" or "pallas". On CPU
      the Pallas kernel runs in interpret mode (slow; for testing).

  Returns:
    (N, H_out, W_out, C) array with the dtype of `images`. Differentiable
    w.r.t. both `images` and `grid` (custom VJP; right derivative at integer
    pixel coordinates).
  """
  images = jnp.asarray(images)
  grid = jnp.asarray(grid)
  _check_images_and_grid(images, grid)
  _check_padding_mode(padding_mode)
  if implementation not in IMPLEMENTATIONS:
    raise ValueError(
        f"implementation must be one of {IMPLEMENTATIONS}, got {implementation!r}."
    )
  if implementation is None:
    implementation = _default_implementation()
  _, h, w, _ = images.shape
  x_NHW, y_NHW = grid_to_pixels(
      grid, (h, w), padding_mode=padding_mode, align_corners=align_corners
  )
  if implementation == "pallas":
    return pallas_sampling.bilinear_sample_pixels(images, x_NHW, y_NHW)
  return _bilinear_pixels_jnp(images, x_NHW, y_NHW)


# ----------------------------------------------------------------------------
# Nearest-neighbour sampling.
# ----------------------------------------------------------------------------


def nearest_sample(
    images: jax.Array,
    grid: jax.Array,
    *,
    padding_mode: str = "zeros",
    align_corners: bool = False,
) -> jax.Array:
  """Nearest-neighbour sampling (``grid_sample(mode="nearest")``, NHWC).

  Pixel coordinates are rounded half to even (torch's ``nearbyint``). The
  output is piecewise constant in `grid`, so its gradient w.r.t. the grid is
  zero everywhere: this is the non-differentiable first attempt that bilinear
  sampling fixes. The gradient w.r.t. `images` is the usual scatter-add.

  Args and returns as in :func:`bilinear_sample`.
  """
  images = jnp.asarray(images)
  grid = jnp.asarray(grid)
  _check_images_and_grid(images, grid)
  _check_padding_mode(padding_mode)
  n, h, w, c = images.shape
  x_NHW, y_NHW = grid_to_pixels(
      grid, (h, w), padding_mode=padding_mode, align_corners=align_corners
  )
  # Clamp before casting so that huge/inf coordinates stay representable.
  xr = jnp.round(jnp.clip(x_NHW, -1.0, float(w)))
  yr = jnp.round(jnp.clip(y_NHW, -1.0, float(h)))
  valid = (xr >= 0) & (xr <= w - 1) & (yr >= 0) & (yr <= h - 1)
  idx = (
      (jnp.arange(n, dtype=jnp.int32) * (h * w))[:, None, None]
      + jnp.clip(yr, 0, h - 1).astype(jnp.int32) * w
      + jnp.clip(xr, 0, w - 1).astype(jnp.int32)
  )
  values = images.reshape(n * h * w, c).at[idx].get(mode="promise_in_bounds")
  return jnp.where(valid[..., None], values, jnp.zeros((), images.dtype))
