"""Affine grids and differentiable image sampling (spatial-transformer ops).

Pure JAX re-implementation of ``torch.nn.functional.affine_grid`` and
``torch.nn.functional.grid_sample`` (modes ``bilinear`` and ``nearest``,
padding modes ``zeros``, ``border`` and ``reflection``), in NHWC layout.

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
* ``"reflection"``: the pixel coordinate is mirrored at the image's edges
  (the outer pixel edges -0.5 and W-0.5 with ``align_corners=False``, the
  corner-pixel centres 0 and W-1 with ``align_corners=True``) as often as
  needed, then clipped as for "border"; the gradient changes sign at each
  mirror, as in PyTorch's ``reflect_coordinates``.

Every padding mode is applied to the coordinates (`grid_to_pixels`) before
any sampler sees them, so all samplers (jnp, both Pallas kernels, nearest)
share one rule.

Gradients of :func:`bilinear_sample` use ``x0 = floor(x)``, ``x1 = x0 + 1``, so
the derivative w.r.t. a coordinate that lies exactly on a pixel centre is the
one-sided (right) derivative, never 0 by accident (a ``floor``/``ceil`` pair
would give ``x0 == x1`` there and lose the gradient).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Optional

import jax
import jax.numpy as jnp

from deepvsshallow.errors import UsageError
from deepvsshallow.ops import pallas_sampling, taps

PADDING_MODES = ("zeros", "border", "reflection")
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
  if min(images.shape[1:3]) < 1:
    raise ValueError(
        f"images must have non-empty H_in and W_in, got shape "
        f"{tuple(images.shape)}."
    )
  _check_floating("images", images)
  _check_floating("grid", grid)


def _empty_output(images: jax.Array, grid: jax.Array):
  """The (N, H_out, W_out, C) output when it holds no element (an empty
  batch, output grid or channel axis, as torch returns it), else None."""
  shape = (*grid.shape[:3], images.shape[-1])
  return jnp.zeros(shape, images.dtype) if 0 in shape else None


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


def _reflect_like_torch(coord: jax.Array, twice_low: int, twice_high: int
                        ) -> jax.Array:
  """Reflects `coord` into [twice_low / 2, twice_high / 2] at both ends, as
  often as needed (torch's ``reflect_coordinates``; the bounds are given
  doubled so that half-pixel edges stay integers). The slope is +1 or -1:
  -1 below the lower bound, then negated once per reflection."""
  if twice_low == twice_high:   # A one-pixel axis with align_corners=True.
    return jnp.zeros_like(coord)
  low = twice_low / 2
  span = (twice_high - twice_low) / 2
  # An infinite coordinate reads as the lower bound, as torch's does (its
  # fmod gives NaN, which its clip then sends to 0).
  d = jnp.where(jnp.isfinite(coord), coord, low) - low
  d = jnp.where(d < 0, -d, d)   # torch: slope -1 below `low`, +1 at it.
  flips = jnp.floor(d / span)
  extra = d - flips * span      # fmod(d, span), d >= 0; slope +1.
  odd = jnp.mod(flips, 2) == 1
  return jnp.where(odd, span - extra, extra) + low


def grid_to_pixels(
    grid: jax.Array,
    in_hw: tuple[int, int],
    *,
    padding_mode: str,
    align_corners: bool,
):
  """Pixel coordinates (x_NHW, y_NHW) of a grid, after the padding-mode clip.

  Computed as torch computes them, with no adjustment: where the taps and the
  kinks are is decided by these coordinates (`deepvsshallow.ops.taps`).
  They are float32 at least, whatever the grid's dtype: in bfloat16 a pixel
  coordinate near 20 has a step of 0.125, and the fraction's snap tolerance
  (`taps.snap_tolerance`, a few ulps of the image size) would swallow every
  fraction. The gradient w.r.t. the grid comes back in its dtype. (torch
  in bfloat16 can differ by one bfloat16 rounding: 32 where this gives
  31.875, from 31.921875 exactly.)
  A NaN in the grid reads as -1, torch's documented rule, for every
  sampler (its gradient there is 0).
  """
  h, w = in_hw
  grid = grid.astype(jnp.promote_types(grid.dtype, jnp.float32))
  grid = jnp.where(jnp.isnan(grid), -1.0, grid)
  x = unnormalize(grid[..., 0], w, align_corners=align_corners)
  y = unnormalize(grid[..., 1], h, align_corners=align_corners)
  if padding_mode == "reflection":
    # Bounds doubled: the pixel edges (-1, 2W - 1) or centres (0, 2(W - 1)).
    x = _reflect_like_torch(x, *((0, 2 * (w - 1)) if align_corners
                                 else (-1, 2 * w - 1)))
    y = _reflect_like_torch(y, *((0, 2 * (h - 1)) if align_corners
                                 else (-1, 2 * h - 1)))
  if padding_mode in ("border", "reflection"):
    x = _clip_like_torch(x, w)
    y = _clip_like_torch(y, h)
  return x, y


# ----------------------------------------------------------------------------
# Bilinear sampling, portable jnp implementation (gather / scatter-add).
# ----------------------------------------------------------------------------

def _taps(x_NHW, y_NHW, h: int, w: int):
  """Flat indices into the batch (4, N, H, W) of the 2x2 taps (`taps.CORNERS`
  order), whether each is inside its image, and the fractions
  (`deepvsshallow.ops.taps`: taps from ``floor``, fractions snapped)."""
  return taps.batch_corners(x_NHW, y_NHW, h, w)


def _bilinear_fwd(images_NHWC, x_NHW, y_NHW):
  n, h, w, c = images_NHWC.shape
  idx, valid, fx, fy = _taps(x_NHW, y_NHW, h, w)
  v = images_NHWC.reshape(n * h * w, c).at[idx].get(mode="promise_in_bounds")
  v = jnp.where(valid[..., None], v, jnp.zeros((), v.dtype))
  out = taps.interpolate(*v, fx[..., None], fy[..., None])[2]
  return out.astype(images_NHWC.dtype), (idx, valid, v, fx, fy)


def _bilinear_bwd(shape, residuals, g_NHWC):
  """Image gradient: one scatter-add of the 4 weighted taps (segment_sum).

  Coordinate gradient: from the 4 tap values saved by the forward pass, no
  second gather (`taps.coordinate_jacobian`).
  """
  n, h, w, c = shape
  idx, valid, v, fx, fy = residuals
  g = g_NHWC.astype(v.dtype)
  fx_, fy_ = fx[..., None], fy[..., None]
  top, bottom, _ = taps.interpolate(*v, fx_, fy_)
  jx, jy = taps.coordinate_jacobian(*v, fy_, top, bottom)
  g_images = taps.scatter_image_gradient(idx, valid, fx, fy, g, n * h * w)
  return (g_images.reshape(shape).astype(g_NHWC.dtype),
          jnp.sum(g * jx, -1).astype(fx.dtype),
          jnp.sum(g * jy, -1).astype(fy.dtype))


# A custom VJP over flat indices: the forward gathers each tap once and saves
# the values, so the coordinate gradient needs no second gather, and the image
# gradient is one segment_sum. On the 2-core CPU this measured about 1.4x
# faster, forward plus backward, than autodiff of the same gathers (see
# BUILD_NOTES.md).
@jax.custom_vjp
def _bilinear_pixels_jnp(images_NHWC, x_NHW, y_NHW):
  return _bilinear_fwd(images_NHWC, x_NHW, y_NHW)[0]


def _bilinear_pixels_jnp_fwd(images_NHWC, x_NHW, y_NHW):
  out, residuals = _bilinear_fwd(images_NHWC, x_NHW, y_NHW)
  return out, (residuals, images_NHWC.shape)


def _bilinear_pixels_jnp_bwd(saved, g_NHWC):
  residuals, shape = saved
  return _bilinear_bwd(shape, residuals, g_NHWC)


_bilinear_pixels_jnp.defvjp(_bilinear_pixels_jnp_fwd, _bilinear_pixels_jnp_bwd)


# The default sampler of each backend: the fastest measured there, with the
# figure behind each entry in BUILD_NOTES.md ("Sampler defaults").
#   cpu: jnp. 2-core CPU, STN workload fwd+bwd: jnp 7.7 ms; the gather and
#        the dense kernel run only in interpret mode there (579 ms, 1,000 ms).
#   gpu: jnp. One H100 (issue 11): jnp 0.114 ms, the dense kernel 219 ms
#        (1900x slower), torch CUDA 0.909 ms. The gather kernel is not
#        measured on a GPU yet, so it is not the default.
#   tpu: pallas (the dense kernel). Not measured: its matmul formulation is
#        written for the MXU, and gathers are slow on TPUs.
DEFAULT_SAMPLER = {"cpu": "jnp", "gpu": "jnp", "tpu": "pallas"}
# Where each sampler can run. The gather kernel needs Triton's integer-array
# indexing (GPU) or interpret mode (CPU); Mosaic (TPU) does not lower it.
RUNS_ON = {"jnp": ("cpu", "gpu", "tpu"), "pallas": ("cpu", "gpu", "tpu"),
           "pallas_gather": ("cpu", "gpu")}
SAMPLERS = tuple(RUNS_ON)
IMPLEMENTATIONS = (None, *SAMPLERS)


def default_implementation(backend: Optional[str] = None) -> str:
  """The sampler for `backend` (default: JAX's default backend):
  DEEPVSSHALLOW_SAMPLER if set, else `DEFAULT_SAMPLER`. An unknown name, or
  one that cannot run on the backend, is a one-line UsageError."""
  backend = backend or jax.default_backend()
  choice = os.environ.get("DEEPVSSHALLOW_SAMPLER", "")
  if not choice:
    return DEFAULT_SAMPLER.get(backend, "jnp")
  check_implementation(choice, backend, "DEEPVSSHALLOW_SAMPLER")
  return choice


def check_implementation(name: str, backend: str, where: str) -> None:
  if name not in RUNS_ON:
    raise UsageError(f"{where}={name!r} is not a sampler; use one of "
                     f"{', '.join(SAMPLERS)} (or unset it for the default).")
  if backend not in RUNS_ON[name]:
    raise UsageError(f"{where}={name!r} cannot run on {backend} (it runs on "
                     f"{', '.join(RUNS_ON[name])}); use one of "
                     f"{', '.join(n for n in SAMPLERS if backend in RUNS_ON[n])}.")


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
    padding_mode: "zeros" (out-of-image taps read 0), "border" (pixel
      coordinates clipped to the image before interpolating) or
      "reflection" (reflected at the image's edges, then clipped).
    align_corners: whether -1/+1 are corner-pixel centres (True) or edges.
    implementation: None (the backend's `DEFAULT_SAMPLER`, or
      $DEEPVSSHALLOW_SAMPLER), "jnp" (gather / scatter-add), "pallas" (the
      dense-matrix kernel) or "pallas_gather" (the gather kernel; GPU, or
      CPU in interpret mode). On CPU the Pallas kernels run in interpret
      mode (slow; for testing).

  Returns:
    (N, H_out, W_out, C) array with the dtype of `images`. Differentiable
    w.r.t. both `images` and `grid` (both paths: a custom VJP of the
    floor-based taps); the derivative w.r.t. a coordinate at an
    integer pixel position is the right derivative.
  """
  images = jnp.asarray(images)
  grid = jnp.asarray(grid)
  _check_images_and_grid(images, grid)
  _check_padding_mode(padding_mode)
  if implementation is None:
    implementation = default_implementation()
  else:
    check_implementation(implementation, jax.default_backend(),
                         "implementation")
  empty = _empty_output(images, grid)
  if empty is not None:
    return empty
  _, h, w, _ = images.shape
  x_NHW, y_NHW = grid_to_pixels(
      grid, (h, w), padding_mode=padding_mode, align_corners=align_corners
  )
  if implementation == "pallas":
    return pallas_sampling.bilinear_sample_pixels(images, x_NHW, y_NHW)
  if implementation == "pallas_gather":
    return pallas_sampling.bilinear_gather_pixels(images, x_NHW, y_NHW)
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
  empty = _empty_output(images, grid)
  if empty is not None:
    return empty
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
