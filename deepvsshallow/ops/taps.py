"""Where a bilinear tap starts, and its fraction: one rule for every sampler.

For a pixel coordinate ``c`` (already unnormalised, and clipped for the
"border" mode), bilinear sampling reads the taps ``floor(c)`` and
``floor(c) + 1`` with weights ``1 - f`` and ``f``:

* The **tap** comes from the coordinate as computed, with no adjustment,
  exactly as torch computes it. The kink of bilinear interpolation, where
  the derivative w.r.t. the coordinate jumps, sits at integer coordinates. A
  coordinate that floating point puts just below an integer therefore takes
  the left slope, as in torch and in exact arithmetic for that float.
* The **fraction** ``f = c - floor(c)`` is snapped to exactly 0 or 1 when it
  is within `SNAP_ULPS` float ulps (of the image size) of either, and the
  weights ``(1 - f, f)`` then pick one tap exactly. The normalise/unnormalise
  round trip is not exact in floating point (W = 9, align_corners=False puts
  pixel 7 at 6.9999995), and this snap keeps an identity transform bit for
  bit. It moves the value by at most that many ulps, and never moves the
  kink.

An earlier version snapped the coordinate itself. That moved a coordinate
just below an integer onto it, and so onto the other side of the kink: at
the STN workload, 123 points took the wrong one-sided derivative against a
float64 evaluation, where torch had 7 (BUILD_NOTES.md).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

SNAP_ULPS = 4


def snap_tolerance(dtype, size: int) -> float:
  """Fractions within this of 0 or 1 are snapped (in pixels)."""
  return SNAP_ULPS * float(jnp.finfo(dtype).eps) * max(int(size), 1)


def split(coord, size: int):
  """(start, fraction): ``start = floor(coord)`` (the left tap, unadjusted)
  and ``coord - start`` snapped to exactly 0 or 1 within the tolerance."""
  start = jnp.floor(coord)
  frac = coord - start
  tol = snap_tolerance(frac.dtype, size)
  zero = jnp.zeros((), frac.dtype)
  one = jnp.ones((), frac.dtype)
  return start, jnp.where(frac <= tol, zero,
                          jnp.where(frac >= 1 - tol, one, frac))


def lerp(a, b, frac):
  """``(1 - frac) * a + frac * b``: exactly ``a`` at 0 and ``b`` at 1 (the
  form ``a + frac * (b - a)`` is not exact at 1)."""
  return (1 - frac) * a + frac * b


def start_and_fraction(x, y, h: int, w: int):
  """(x0, fx, y0, fy) of pixel coordinates, clamped first to [-2, size + 1]
  (a coordinate beyond has no in-image tap either way, and inf or huge
  values stay representable)."""
  x0, fx = split(jnp.clip(x, -2.0, w + 1.0), w)
  y0, fy = split(jnp.clip(y, -2.0, h + 1.0), h)
  return x0, fx, y0, fy


def corner(x0, y0, dx: int, dy: int, h: int, w: int):
  """(flat index within one image, inside?) of the tap (y0 + dy, x0 + dx).
  An outside tap gets a clamped in-range index; the caller masks it (the
  "zeros" boundary mode)."""
  xi, yi = x0 + dx, y0 + dy
  valid = (xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1)
  index = (jnp.clip(yi, 0, h - 1).astype(jnp.int32) * w
           + jnp.clip(xi, 0, w - 1).astype(jnp.int32))
  return index, valid


CORNERS = ((0, 0), (0, 1), (1, 0), (1, 1))   # (dy, dx): v00, v01, v10, v11.


def batch_corners(x_NHW, y_NHW, h: int, w: int):
  """The 2x2 taps of every point of a batch: flat indices into all N images
  (4, N, H, W) in `CORNERS` order, whether each is inside its image, and the
  fractions (fx, fy)."""
  n = x_NHW.shape[0]
  x0, fx, y0, fy = start_and_fraction(x_NHW, y_NHW, h, w)
  first = (jnp.arange(n, dtype=jnp.int32) * (h * w))[:, None, None]
  idx, valid = zip(*(corner(x0, y0, dx, dy, h, w) for dy, dx in CORNERS))
  return first + jnp.stack(idx), jnp.stack(valid), fx, fy


def interpolate(v00, v01, v10, v11, fx, fy):
  """(top, bottom, out) of the 2x2 tap values (fractions broadcast)."""
  top = lerp(v00, v01, fx)
  bottom = lerp(v10, v11, fx)
  return top, bottom, lerp(top, bottom, fy)


def coordinate_jacobian(v00, v01, v10, v11, fy, top, bottom):
  """(d out / dx, d out / dy) per channel: the one-sided derivatives on the
  side of the kink where the coordinate is (the taps' interval)."""
  return (1 - fy) * (v01 - v00) + fy * (v11 - v10), bottom - top


def tap_weights(fx, fy):
  """The 4 taps' weights, in `CORNERS` order."""
  return ((1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx)


def scatter_image_gradient(idx_4NP, valid_4NP, fx_NP, fy_NP, g_NPC,
                           num_pixels: int):
  """d images (num_pixels, C) from the output cotangent: one segment_sum of
  the 4 weighted taps (flat indices into all images)."""
  c = g_NPC.shape[-1]
  weights = tap_weights(fx_NP[..., None], fy_NP[..., None])
  updates = jnp.stack([jnp.where(valid_4NP[k][..., None], weights[k] * g_NPC,
                                 0) for k in range(4)])
  return jax.ops.segment_sum(updates.reshape(-1, c), idx_4NP.reshape(-1),
                             num_pixels)
