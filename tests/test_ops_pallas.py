"""Pallas bilinear-sampling kernel vs the jnp path (interpret mode on CPU).

Sizes are kept tiny: in interpret mode every grid step is emulated.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deepvsshallow import ops
from deepvsshallow.ops import pallas_sampling

MODES = [(a, p) for a in (False, True) for p in ("zeros", "border")]


def _inputs(seed, n=2, in_hw=(7, 9), out_hw=(5, 6), c=3, spread=0.5):
  rng = np.random.default_rng(seed)
  images = jnp.asarray(rng.standard_normal((n, *in_hw, c)), jnp.float32)
  identity = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
  theta = jnp.asarray(identity + spread * rng.standard_normal((n, 2, 3)), jnp.float32)
  cot = jnp.asarray(rng.standard_normal((n, *out_hw, c)), jnp.float32)
  return images, theta, cot, (n, *out_hw, c)


def _values_and_grads(implementation, images, theta, cot, size, padding_mode, align_corners):
  def loss(images, theta):
    grid = ops.affine_grid(theta, size, align_corners=align_corners)
    out = ops.bilinear_sample(
        images, grid, padding_mode=padding_mode, align_corners=align_corners,
        implementation=implementation,
    )
    return jnp.sum(out * cot), out

  (_, out), grads = jax.jit(jax.value_and_grad(loss, (0, 1), has_aux=True))(images, theta)
  return out, grads


@pytest.mark.parametrize("align_corners,padding_mode", MODES)
def test_pallas_matches_jnp(align_corners, padding_mode):
  images, theta, cot, size = _inputs(0, spread=0.6)
  out_j, (di_j, dt_j) = _values_and_grads("jnp", images, theta, cot, size, padding_mode, align_corners)
  out_p, (di_p, dt_p) = _values_and_grads("pallas", images, theta, cot, size, padding_mode, align_corners)
  np.testing.assert_allclose(out_p, out_j, atol=1e-5)
  np.testing.assert_allclose(di_p, di_j, atol=1e-5)
  np.testing.assert_allclose(dt_p, dt_j, rtol=1e-5, atol=1e-4)


def test_pallas_multiple_blocks_and_integer_points():
  # Sizes spanning several point and pixel blocks (P = Q = 264 > 256 > 64),
  # one channel, identity + align_corners=True: every sample exactly on a
  # pixel centre, where the right derivative must be used.
  images, _, _, _ = _inputs(1, n=1, in_hw=(12, 22), c=1)
  theta = jnp.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
  size = (1, 12, 22, 1)
  cot = jnp.asarray(np.random.default_rng(2).standard_normal(size), jnp.float32)
  out_j, (di_j, dt_j) = _values_and_grads("jnp", images, theta, cot, size, "zeros", True)
  out_p, (di_p, dt_p) = _values_and_grads("pallas", images, theta, cot, size, "zeros", True)
  np.testing.assert_allclose(out_p, images, atol=1e-6)
  np.testing.assert_allclose(out_p, out_j, atol=1e-6)
  np.testing.assert_allclose(di_p, di_j, atol=1e-5)
  np.testing.assert_allclose(dt_p, dt_j, rtol=1e-5, atol=1e-4)
  assert np.all(np.abs(np.asarray(dt_p)) > 0)


def test_pallas_pixel_level_api_and_far_out_coordinates():
  rng = np.random.default_rng(3)
  images = jnp.asarray(rng.standard_normal((1, 4, 5, 2)), jnp.float32)
  # Includes coordinates far outside and +-inf: they must read 0, gradient 0.
  x = jnp.array([[[0.0, 1.5, 4.0, -0.5, 1e9, -jnp.inf]]], jnp.float32)
  y = jnp.array([[[0.0, 2.25, 3.0, 1.0, 1.0, 1.0]]], jnp.float32)
  fn = lambda i, x, y: pallas_sampling.bilinear_sample_pixels(i, x, y, interpret=True)
  out = fn(images, x, y)
  expected = jax.vmap(
      lambda im: jax.scipy.ndimage.map_coordinates(
          im, [y[0, 0, :4], x[0, 0, :4]], order=1, mode="constant"
      ),
      in_axes=-1, out_axes=-1,
  )(images[0])
  np.testing.assert_allclose(out[0, 0, :4], expected[:4], atol=1e-6)
  np.testing.assert_array_equal(out[0, 0, 4:], 0.0)
  dx = jax.grad(lambda x: jnp.sum(fn(images, x, y)))(x)
  assert np.all(np.isfinite(np.asarray(dx)))
  np.testing.assert_array_equal(dx[0, 0, 4:], 0.0)


def test_pallas_under_jit_and_vmap():
  images, theta, _, size = _inputs(4, n=1, c=1)
  grid = ops.affine_grid(theta, size)
  f = lambda i, g: ops.bilinear_sample(i, g, implementation="pallas")
  ref = ops.bilinear_sample(images, grid, implementation="jnp")
  np.testing.assert_allclose(jax.jit(f)(images, grid), ref, atol=1e-6)
  np.testing.assert_allclose(jax.vmap(f)(images[None], grid[None])[0], ref, atol=1e-6)
