"""Pallas bilinear-sampling kernels (the dense-matrix one and the gather
one) vs the jnp path and the numpy reference (interpret mode on CPU).

Sizes are kept tiny: in interpret mode every grid step is emulated.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deepvsshallow import ops
from deepvsshallow.ops import pallas_sampling

MODES = [(a, p) for a in (False, True) for p in ("zeros", "border")]
# Reflection is applied to the coordinates before any kernel sees them
# (`sampling.grid_to_pixels`); checked against the reference once per
# align_corners.
REFERENCE_MODES = MODES + [(False, "reflection"), (True, "reflection")]
KERNELS = ("pallas", "pallas_gather")
PIXEL_APIS = {"pallas": pallas_sampling.bilinear_sample_pixels,
              "pallas_gather": pallas_sampling.bilinear_gather_pixels}


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


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("align_corners,padding_mode", MODES)
def test_pallas_matches_jnp(kernel, align_corners, padding_mode):
  images, theta, cot, size = _inputs(0, spread=0.6)
  out_j, (di_j, dt_j) = _values_and_grads("jnp", images, theta, cot, size, padding_mode, align_corners)
  out_p, (di_p, dt_p) = _values_and_grads(kernel, images, theta, cot, size, padding_mode, align_corners)
  np.testing.assert_allclose(out_p, out_j, atol=1e-5)
  np.testing.assert_allclose(di_p, di_j, atol=1e-5)
  np.testing.assert_allclose(dt_p, dt_j, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("align_corners,padding_mode", REFERENCE_MODES)
def test_kernels_match_the_numpy_reference_and_its_gradients(
    kernel, align_corners, padding_mode):
  """Odd sizes (7x9 -> 5x3, 3 channels); values against the loop-by-loop
  numpy reference, d_img against its exact linearity (the output is linear
  in the images: d_img[q] = sum of cot * weight), d_grid against float64
  central differences of the numpy reference."""
  from test_ops import ref_grid_sample
  rng = np.random.default_rng(7)
  images = rng.standard_normal((2, 7, 9, 3))
  grid = rng.uniform(-1.15, 1.15, (2, 5, 3, 2))
  cot = rng.standard_normal((2, 5, 3, 3))
  f = lambda i, g: ops.bilinear_sample(
      i, g, padding_mode=padding_mode, align_corners=align_corners,
      implementation=kernel)
  out, vjp = jax.vjp(f, jnp.asarray(images, jnp.float32),
                     jnp.asarray(grid, jnp.float32))
  ref = lambda i, g: ref_grid_sample(i, g, "bilinear", padding_mode,
                                     align_corners)
  np.testing.assert_allclose(out, ref(images, grid), atol=1e-5)
  d_img, d_grid = vjp(jnp.asarray(cot, jnp.float32))
  # d_img: the reference is linear in the images, so its gradient is the
  # reference's transpose applied to cot, read off one pixel at a time.
  basis = np.zeros_like(images)
  for idx in [(0, 0, 0, 0), (0, 3, 4, 1), (1, 6, 8, 2), (1, 2, 5, 0)]:
    basis[idx] = 1.0
    np.testing.assert_allclose(d_img[idx], np.sum(ref(basis, grid) * cot),
                               atol=1e-5)
    basis[idx] = 0.0
  eps = 1e-6
  for idx in [(0, 0, 0, 0), (0, 2, 1, 1), (1, 4, 2, 0), (1, 1, 2, 1)]:
    e = np.zeros_like(grid)
    e[idx] = eps
    fd = np.sum((ref(images, grid + e) - ref(images, grid - e)) * cot) / (
        2 * eps)
    np.testing.assert_allclose(d_grid[idx], fd, rtol=1e-3, atol=1e-3)


def _equations(fn, *args, name: str) -> list:
  """Every `name` equation in fn's jaxpr, nested ones (kernels, custom VJPs,
  jits) included."""
  def walk(jaxpr):
    found = []
    for eqn in jaxpr.eqns:
      if eqn.primitive.name == name:
        found.append(eqn)
      for value in eqn.params.values():
        inner = getattr(value, "jaxpr", value)
        if hasattr(inner, "eqns"):
          found += walk(inner)
    return found
  return walk(jax.make_jaxpr(fn)(*args).jaxpr)


def _dots_in(fn, *args) -> int:
  return len(_equations(fn, *args, name="dot_general"))


def test_forward_only_calls_do_no_jacobian_work():
  images, theta, cot, size = _inputs(5, c=1)
  x = jnp.full(size[:3], 2.5, jnp.float32)
  y = jnp.full(size[:3], 1.5, jnp.float32)
  dense = lambda i, x, y: pallas_sampling.bilinear_sample_pixels(
      i, x, y, interpret=True)
  # Forward only: one dot per step; differentiated: the two Jacobian dots
  # more (the image gradient's dot is in its own kernel).
  forward = _dots_in(dense, images, x, y)
  with_grad = _dots_in(jax.grad(lambda i, x, y: jnp.sum(dense(i, x, y)),
                                (0, 1, 2)), images, x, y)
  assert forward == 1 and with_grad == 1 + 3, (forward, with_grad)
  # The gather kernel has no dots at all; forward only, it writes one output.
  gather = lambda i, x, y: pallas_sampling.bilinear_gather_pixels(
      i, x, y, interpret=True)
  assert _dots_in(gather, images, x, y) == 0
  calls = _equations(gather, images, x, y, name="pallas_call")
  assert len(calls) == 1 and len(calls[0].outvars) == 1
  # One channel stays one channel in interpret mode (no padding to 16).
  call, = _equations(dense, images, x, y, name="pallas_call")
  assert len(call.outvars) == 1 and call.outvars[0].aval.shape[-1] == 1


@pytest.mark.parametrize("kernel", KERNELS)
def test_pallas_multiple_blocks_and_integer_points(kernel):
  # Sizes spanning several point and pixel blocks (P = Q = 264 > 256 > 64),
  # one channel, identity + align_corners=True: every sample exactly on a
  # pixel centre, where the right derivative must be used.
  images, _, _, _ = _inputs(1, n=1, in_hw=(12, 22), c=1)
  theta = jnp.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
  size = (1, 12, 22, 1)
  cot = jnp.asarray(np.random.default_rng(2).standard_normal(size), jnp.float32)
  out_j, (di_j, dt_j) = _values_and_grads("jnp", images, theta, cot, size, "zeros", True)
  out_p, (di_p, dt_p) = _values_and_grads(kernel, images, theta, cot, size, "zeros", True)
  np.testing.assert_array_equal(out_p, images)   # The identity, bit for bit.
  np.testing.assert_allclose(out_p, out_j, atol=1e-6)
  np.testing.assert_allclose(di_p, di_j, atol=1e-5)
  np.testing.assert_allclose(dt_p, dt_j, rtol=1e-5, atol=1e-4)
  assert np.all(np.abs(np.asarray(dt_p)) > 0)


@pytest.mark.parametrize("kernel", KERNELS)
def test_pallas_pixel_level_api_and_far_out_coordinates(kernel):
  rng = np.random.default_rng(3)
  images = jnp.asarray(rng.standard_normal((1, 4, 5, 2)), jnp.float32)
  # Includes coordinates far outside and +-inf: they must read 0, gradient 0.
  x = jnp.array([[[0.0, 1.5, 4.0, -0.5, 1e9, -jnp.inf]]], jnp.float32)
  y = jnp.array([[[0.0, 2.25, 3.0, 1.0, 1.0, 1.0]]], jnp.float32)
  fn = lambda i, x, y: PIXEL_APIS[kernel](i, x, y, interpret=True)
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


@pytest.mark.parametrize("kernel", KERNELS)
def test_pallas_under_jit_and_vmap(kernel):
  images, theta, _, size = _inputs(4, n=1, c=1)
  grid = ops.affine_grid(theta, size)
  f = lambda i, g: ops.bilinear_sample(i, g, implementation=kernel)
  ref = ops.bilinear_sample(images, grid, implementation="jnp")
  np.testing.assert_allclose(jax.jit(f)(images, grid), ref, atol=1e-6)
  np.testing.assert_allclose(jax.vmap(f)(images[None], grid[None])[0], ref, atol=1e-6)
