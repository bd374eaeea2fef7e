"""Affine transforms from rotation, scale, shear and translation, and the
`theta` that makes `affine_grid` + a sampler apply them.

Conventions:

* A transform is a (..., 3, 3) homogeneous matrix ``M`` acting on **pixel
  positions measured from the image centre**, x to the right and y down (the
  screen's axes): the content at image point ``q`` moves to ``p = M q``.
  Working in pixels keeps a rotation a rotation on non-square images
  (normalised coordinates stretch x and y by different amounts).
* ``affine_matrix`` builds ``M = T(translation) R(angle) S(scale)
  Sh(shear)``, applied right to left: shear first, translation last, about
  the image centre; the order of kornia's ``get_affine_matrix2d``, but not
  its signs or units. A positive ``angle`` (radians) turns the content
  counter-clockwise as seen on screen (kornia's degrees turn it clockwise),
  and shear is the matrix entry itself (kornia's is -tan of an angle).
* ``theta_from_matrix`` gives the (..., 2, 3) ``theta`` of `affine_grid`,
  which maps *output* normalised coordinates to *input* ones (torch's
  convention), for ``align_corners=False``, where normalised ±1 are the
  outer pixel edges: ``theta = N_in^-1 M^-1 N_out`` with ``N = diag(W/2,
  H/2, 1)`` from normalised to centred pixels. Input and output may differ
  in size (a digit placed on a larger canvas).
* ``compose(A, B, ...)`` is the matrix product: the transform that applies
  the last one first (``compose(A, B) q = A (B q)``).

Every argument broadcasts over leading batch dimensions; vectors (scale per
axis, shear, translation) have a trailing axis of 2, (x, y).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp


def _floating(value):
  """float32 at least (float64 stays float64)."""
  v = jnp.asarray(value)
  return v.astype(jnp.promote_types(v.dtype, jnp.float32))


def _pair(value, name: str):
  v = _floating(value)
  if v.ndim == 0:
    v = jnp.stack([v, v])
  if v.shape[-1] != 2:
    raise ValueError(f'{name} must be a scalar or have a trailing axis of 2 '
                     f'(x, y), got shape {tuple(v.shape)}.')
  return v


def affine_matrix(angle=0.0, scale=1.0, translation=(0.0, 0.0),
                  shear=(0.0, 0.0)):
  """``M = T R S Sh`` (..., 3, 3), in centred pixels (module docstring).

  Args:
    angle: (...) radians, counter-clockwise on screen.
    scale: a scalar for both axes, or (..., 2) per axis (sx, sy).
    translation: (..., 2) pixels (x right, y down).
    shear: (..., 2) (shx, shy): ``x' = x + shx y``, ``y' = y + shy x``.
  """
  angle = _floating(angle)
  scale = _pair(scale, 'scale')
  translation = _pair(translation, 'translation')
  shear = _pair(shear, 'shear')
  batch = jnp.broadcast_shapes(angle.shape, scale.shape[:-1],
                               translation.shape[:-1], shear.shape[:-1])
  cos, sin = jnp.cos(angle), jnp.sin(angle)
  zero, one = jnp.zeros_like(cos), jnp.ones_like(cos)

  def matrix(rows):
    return jnp.stack([jnp.stack(jnp.broadcast_arrays(*row), -1)
                      for row in rows], -2)

  # y points down, so content turning counter-clockwise on screen sends
  # (1, 0) to (cos, -sin).
  rotate = matrix([[cos, sin, zero], [-sin, cos, zero], [zero, zero, one]])
  sx, sy = scale[..., 0], scale[..., 1]
  tx, ty = translation[..., 0], translation[..., 1]
  hx, hy = shear[..., 0], shear[..., 1]
  z, o = jnp.zeros(batch), jnp.ones(batch)
  scale_m = matrix([[sx, z, z], [z, sy, z], [z, z, o]])
  shear_m = matrix([[o, hx, z], [hy, o, z], [z, z, o]])
  shift_m = matrix([[o, z, tx], [z, o, ty], [z, z, o]])
  return compose(shift_m, rotate, scale_m, shear_m)


def compose(*matrices):
  """The product ``A B ...``: the last transform applies first."""
  if not matrices:
    raise ValueError('compose needs at least one matrix.')
  out = jnp.asarray(matrices[0])
  for m in matrices[1:]:
    out = out @ jnp.asarray(m)
  return out


def theta_from_matrix(matrix, in_hw: Sequence[int],
                      out_hw: Sequence[int] | None = None):
  """The `affine_grid` theta (..., 2, 3) whose output shows the input with
  its content moved by `matrix` (centred pixels; align_corners=False).

  Args:
    matrix: (..., 3, 3) from `affine_matrix` / `compose`.
    in_hw: (H, W) of the image sampled from.
    out_hw: (H, W) of the output grid; default `in_hw`.
  """
  matrix = _floating(matrix)
  if matrix.shape[-2:] != (3, 3):
    raise ValueError(f'matrix must have shape (..., 3, 3), got '
                     f'{tuple(matrix.shape)}.')
  out_hw = tuple(in_hw) if out_hw is None else tuple(out_hw)
  to_pixels = lambda hw: jnp.diag(jnp.asarray(
      [hw[1] / 2, hw[0] / 2, 1.0], matrix.dtype))
  from_pixels_in = jnp.diag(jnp.asarray(
      [2 / in_hw[1], 2 / in_hw[0], 1.0], matrix.dtype))
  theta = from_pixels_in @ jnp.linalg.inv(matrix) @ to_pixels(out_hw)
  return theta[..., :2, :]
