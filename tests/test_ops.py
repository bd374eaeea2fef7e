"""Tests for deepvsshallow.ops (affine_grid, bilinear_sample, nearest_sample)."""

import itertools
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deepvsshallow import ops
from deepvsshallow.errors import UsageError
from deepvsshallow.ops import sampling

ALIGN = (False, True)
PADDING = ("zeros", "border", "reflection")
MODES = list(itertools.product(ALIGN, PADDING))


# ----------------------------------------------------------------------------
# Independent numpy reference, written plainly with loops (torch semantics).
# ----------------------------------------------------------------------------


def ref_affine_grid(theta, size, align_corners):
  n, h, w, _ = size

  def base(num):
    if num == 1:
      return [0.0]
    if align_corners:
      return [-1.0 + 2.0 * k / (num - 1) for k in range(num)]
    return [(2.0 * k + 1.0) / num - 1.0 for k in range(num)]

  xs, ys = base(w), base(h)
  grid = np.zeros((n, h, w, 2))
  for b in range(n):
    for i in range(h):
      for j in range(w):
        for k in range(2):
          grid[b, i, j, k] = (
              theta[b, k, 0] * xs[j] + theta[b, k, 1] * ys[i] + theta[b, k, 2]
          )
  return grid


def ref_unnormalize(c, size, align_corners):
  if align_corners:
    return (c + 1.0) / 2.0 * (size - 1)
  return ((c + 1.0) * size - 1.0) / 2.0


def ref_reflect(c, low, high):
  """Mirrors c at low and high until it lies between them."""
  if low == high:
    return low
  while c < low or c > high:
    c = 2 * low - c if c < low else 2 * high - c
  return c


def ref_pixel(image, yi, xi, padding_mode):
  h, w, c = image.shape
  if 0 <= yi < h and 0 <= xi < w:
    return image[yi, xi]
  return np.zeros(c)


def ref_grid_sample(images, grid, mode, padding_mode, align_corners):
  n, h_in, w_in, c = images.shape
  _, h, w, _ = grid.shape
  out = np.zeros((n, h, w, c))
  for b in range(n):
    for i in range(h):
      for j in range(w):
        x = ref_unnormalize(grid[b, i, j, 0], w_in, align_corners)
        y = ref_unnormalize(grid[b, i, j, 1], h_in, align_corners)
        if padding_mode == "reflection":
          # The mirrors: the outer pixel edges, or the corner-pixel centres.
          lo = 0.0 if align_corners else -0.5
          x = ref_reflect(x, lo, w_in - 1.0 - lo)
          y = ref_reflect(y, lo, h_in - 1.0 - lo)
        if padding_mode in ("border", "reflection"):
          x = min(max(x, 0.0), w_in - 1.0)
          y = min(max(y, 0.0), h_in - 1.0)
        if mode == "nearest":
          xr, yr = int(np.rint(x)), int(np.rint(y))  # rint: half to even
          out[b, i, j] = ref_pixel(images[b], yr, xr, padding_mode)
          continue
        x0, y0 = int(np.floor(x)), int(np.floor(y))
        x1, y1 = x0 + 1, y0 + 1
        for yy, xx, wgt in (
            (y0, x0, (x1 - x) * (y1 - y)),
            (y0, x1, (x - x0) * (y1 - y)),
            (y1, x0, (x1 - x) * (y - y0)),
            (y1, x1, (x - x0) * (y - y0)),
        ):
          out[b, i, j] += wgt * ref_pixel(images[b], yy, xx, padding_mode)
  return out


def _random_inputs(seed=0, n=2, in_hw=(5, 7), out_hw=(4, 6), c=2, spread=0.5):
  rng = np.random.default_rng(seed)
  images = rng.standard_normal((n, *in_hw, c))
  identity = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
  # Spread > 0 pushes part of the grid outside [-1, 1] to exercise padding.
  theta = identity + spread * rng.standard_normal((n, 2, 3))
  return images, theta, (n, *out_hw, c)



# ----------------------------------------------------------------------------
# Values.
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("align_corners", ALIGN)
def test_affine_grid_matches_reference(align_corners):
  _, theta, size = _random_inputs()
  for out_hw in [(4, 6), (1, 3), (3, 1)]:
    size = (2, *out_hw, 1)
    got = ops.affine_grid(jnp.asarray(theta, jnp.float32), size, align_corners=align_corners)
    assert got.shape == (*size[:3], 2)
    np.testing.assert_allclose(
        got, ref_affine_grid(theta, size, align_corners), atol=2e-6
    )


@pytest.mark.parametrize("align_corners,padding_mode", MODES)
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_sampling_matches_reference(mode, align_corners, padding_mode):
  images, theta, size = _random_inputs(spread=0.6)
  grid = ref_affine_grid(theta, size, align_corners)
  fn = ops.bilinear_sample if mode == "bilinear" else ops.nearest_sample
  got = fn(
      jnp.asarray(images, jnp.float32),
      jnp.asarray(grid, jnp.float32),
      padding_mode=padding_mode,
      align_corners=align_corners,
  )
  want = ref_grid_sample(images, grid, mode, padding_mode, align_corners)
  assert got.shape == want.shape and got.dtype == jnp.float32
  if mode == "nearest":
    # float32 grid rounding could flip a tie; the grid here has no ties.
    np.testing.assert_allclose(got, want, atol=1e-6)
  else:
    np.testing.assert_allclose(got, want, atol=3e-6)


def test_nearest_rounds_half_to_even():
  # Pixel coordinates 0.5, 1.5, 2.5 (align_corners=True, W=5 -> x = p/2 - 1)
  # round to 0, 2, 2 under nearbyint; half-up rounding would give 1, 2, 3.
  images = np.arange(5.0).reshape(1, 1, 5, 1)
  xs = np.array([0.5, 1.5, 2.5]) / 2.0 - 1.0
  grid = np.stack([xs, np.zeros(3)], -1).reshape(1, 1, 3, 2)
  got = ops.nearest_sample(images, grid, align_corners=True)
  np.testing.assert_array_equal(np.asarray(got).ravel(), [0.0, 2.0, 2.0])


def test_nearest_gradient_wrt_grid_is_zero():
  images, theta, size = _random_inputs()
  grid = jnp.asarray(ref_affine_grid(theta, size, False), jnp.float32)
  loss = lambda g: jnp.sum(ops.nearest_sample(jnp.asarray(images, jnp.float32), g) ** 2)
  np.testing.assert_array_equal(jax.grad(loss)(grid), 0.0)


@pytest.mark.parametrize("hw", [(1, 1), (1, 4), (5, 1), (6, 9)])
@pytest.mark.parametrize("padding_mode", PADDING)
def test_identity_reproduces_input(hw, padding_mode):
  rng = np.random.default_rng(1)
  images = jnp.asarray(rng.standard_normal((2, *hw, 3)), jnp.float32)
  theta = jnp.tile(jnp.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), (2, 1, 1))
  for align_corners in ALIGN:
    grid = ops.affine_grid(theta, images.shape, align_corners=align_corners)
    for fn in (ops.bilinear_sample, ops.nearest_sample):
      out = fn(images, grid, padding_mode=padding_mode, align_corners=align_corners)
      np.testing.assert_array_equal(out, images, err_msg=fn.__name__)


def test_identity_is_exact_with_align_corners():
  # With align_corners=True the identity samples exactly at pixel centres.
  rng = np.random.default_rng(2)
  images = jnp.asarray(rng.standard_normal((1, 11, 13, 1)), jnp.float32)
  theta = jnp.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
  grid = ops.affine_grid(theta, images.shape, align_corners=True)
  out = ops.bilinear_sample(images, grid, align_corners=True)
  np.testing.assert_array_equal(out, images)


def test_jit_and_vmap_match_eager():
  images, theta, size = _random_inputs()
  images = jnp.asarray(images, jnp.float32)
  theta = jnp.asarray(theta, jnp.float32)

  def f(images, theta):
    grid = ops.affine_grid(theta, size, align_corners=False)
    return ops.bilinear_sample(images, grid, padding_mode="border")

  eager = f(images, theta)
  # jit may fuse/contract differently from op-by-op dispatch: float rounding.
  np.testing.assert_allclose(jax.jit(f)(images, theta), eager, atol=1e-5)
  stacked = jax.vmap(f)(jnp.stack([images, 2 * images]), jnp.stack([theta, theta]))
  np.testing.assert_allclose(stacked[0], eager, atol=1e-5)
  np.testing.assert_allclose(stacked[1], 2 * eager, atol=1e-5)
  # Gradients under jit and under vmap agree too.
  g = jax.jit(jax.grad(lambda i, t: jnp.sum(f(i, t) ** 2), (0, 1)))
  g_vmap = jax.jit(jax.vmap(g))(images[None], theta[None])
  for a, b in zip(g_vmap, g(images, theta)):
    np.testing.assert_allclose(a[0], b, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------
# Gradients (float64, finite differences).
# ----------------------------------------------------------------------------


def _loss_fn(size, padding_mode, align_corners, cot):
  def loss(images, theta):
    grid = ops.affine_grid(theta, size, align_corners=align_corners)
    out = ops.bilinear_sample(
        images, grid, padding_mode=padding_mode, align_corners=align_corners
    )
    return jnp.sum(out * cot)

  return jax.jit(loss)


@pytest.mark.parametrize("align_corners,padding_mode", MODES)
def test_gradients_match_central_differences(x64, align_corners, padding_mode):
  images, theta, size = _random_inputs(seed=3, spread=0.4)
  cot = np.random.default_rng(4).standard_normal(size)
  loss = _loss_fn(size, padding_mode, align_corners, cot)
  images, theta = jnp.asarray(images), jnp.asarray(theta)
  d_images, d_theta = jax.grad(loss, (0, 1))(images, theta)
  assert d_images.dtype == jnp.float64 and d_theta.dtype == jnp.float64
  # Image gradient: the loss is linear in the image, so differences are exact.
  eps = 1e-3
  for idx in [(0, 0, 0, 0), (0, 2, 3, 1), (1, 4, 6, 0), (1, 1, 5, 1)]:
    e = jnp.zeros_like(images).at[idx].set(eps)
    fd = (loss(images + e, theta) - loss(images - e, theta)) / (2 * eps)
    np.testing.assert_allclose(d_images[idx], fd, rtol=1e-8, atol=1e-10)
  # Theta gradient at generic (non-integer) points: central differences; eps
  # small enough not to cross pixel boundaries for this seed.
  eps = 1e-7
  for idx in itertools.product(range(2), range(2), range(3)):
    e = jnp.zeros_like(theta).at[idx].set(eps)
    fd = (loss(images, theta + e) - loss(images, theta - e)) / (2 * eps)
    np.testing.assert_allclose(d_theta[idx], fd, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("padding_mode", PADDING)
def test_grid_gradient_at_integer_points_is_right_derivative(x64, padding_mode):
  # align_corners=True + identity: every sample sits exactly on a pixel
  # centre, where floor/ceil implementations lose the gradient.
  rng = np.random.default_rng(5)
  size = (1, 5, 6, 2)
  images = jnp.asarray(rng.standard_normal(size))
  theta = jnp.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
  grid = ops.affine_grid(theta, size, align_corners=True)
  cot = jnp.asarray(rng.standard_normal(size))
  loss = jax.jit(lambda g: jnp.sum(
      ops.bilinear_sample(images, g, padding_mode=padding_mode, align_corners=True) * cot
  ))
  d_grid = jax.grad(loss)(grid)
  eps = 1e-6
  points = [(0, 2, 3, 0), (0, 2, 3, 1), (0, 1, 4, 1), (0, 3, 1, 0)]
  if padding_mode == "zeros":
    # On the image edge the right neighbour is padding (reads 0).
    points += [(0, 0, 0, 0), (0, 4, 5, 0), (0, 4, 2, 1)]
  # The kink is where the coordinate is: exactly on a pixel centre the
  # derivative is the right one; a float that lands a hair below the centre
  # (the grid's float64 rounding) takes the left one, as torch does.
  x_pix, y_pix = ops.grid_to_pixels(grid, size[1:3], padding_mode=padding_mode,
                                    align_corners=True)
  sides = []
  for idx in points:
    coord = float((x_pix, y_pix)[idx[3]][idx[:3]])
    e = jnp.zeros_like(grid).at[idx].set(eps)
    assert abs(coord - round(coord)) < 1e-12   # On a centre, up to rounding.
    if coord >= round(coord):
      sides.append('right')
      one_sided = (loss(grid + e) - loss(grid)) / eps
    else:
      sides.append('left')
      one_sided = (loss(grid) - loss(grid - e)) / eps
    np.testing.assert_allclose(d_grid[idx], one_sided, rtol=1e-4, atol=1e-6)
  # This grid has both kinds of points, exact or above (right slope) and a
  # hair below (left slope).
  assert set(sides) == {'left', 'right'}, sides
  # Interior points have a non-zero gradient (a floor/ceil pair gives 0).
  assert np.all(np.abs(np.asarray(d_grid)[0, 1:4, 1:4]) > 0)
  if padding_mode == "border":
    # At the clip limits torch's border gradient is 0 (x in {0, W-1}, etc.).
    for edge in (0, -1):
      np.testing.assert_array_equal(d_grid[0, :, edge, 0], 0.0)
      np.testing.assert_array_equal(d_grid[0, edge, :, 1], 0.0)


def test_theta_translation_gradient_at_integer_points(x64):
  # Translations move every sample the same way, so a forward difference in
  # theta's last column is exactly the right derivative at integer points.
  # Sizes 5 (W - 1 a power of 2) put every identity sample exactly on a pixel
  # centre in floating point, so every point takes the right slope.
  rng = np.random.default_rng(6)
  size = (2, 5, 5, 1)
  images = jnp.asarray(rng.standard_normal(size))
  theta = jnp.tile(jnp.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), (2, 1, 1))
  cot = jnp.asarray(rng.standard_normal(size))
  loss = _loss_fn(size, "zeros", True, cot)
  d_theta = jax.grad(loss, 1)(images, theta)
  eps = 1e-7
  for idx in [(0, 0, 2), (0, 1, 2), (1, 0, 2), (1, 1, 2)]:
    e = jnp.zeros_like(theta).at[idx].set(eps)
    right = (loss(images, theta + e) - loss(images, theta)) / eps
    np.testing.assert_allclose(d_theta[idx], right, rtol=1e-5, atol=1e-6)
    assert abs(float(d_theta[idx])) > 1e-3


def test_gradient_of_ramp_at_integer_points():
  # Sampling a horizontal ramp v = 3 * col at pixel centres: d out / d x_pix
  # is 3 everywhere inside, and d x_pix / d grid_x = (W - 1) / 2.
  w = 5
  images = jnp.broadcast_to(3.0 * jnp.arange(w, dtype=jnp.float32), (1, 4, w))[..., None]
  theta = jnp.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
  grid = ops.affine_grid(theta, images.shape, align_corners=True)
  d_grid = jax.grad(lambda g: jnp.sum(ops.bilinear_sample(images, g, align_corners=True)))(grid)
  np.testing.assert_allclose(d_grid[0, :, :-1, 0], 3.0 * (w - 1) / 2, rtol=1e-6)
  np.testing.assert_allclose(d_grid[0, :-1, :, 1], 0.0, atol=1e-6)
  # Last row/column: the right neighbour is zero padding, so the (right)
  # derivative is -value * scale, as in torch.
  h = images.shape[1]
  np.testing.assert_allclose(d_grid[0, -1, :, 1], -3.0 * jnp.arange(w) * (h - 1) / 2, rtol=1e-6)
  np.testing.assert_allclose(d_grid[0, :, -1, 0], -3.0 * (w - 1) * (w - 1) / 2, rtol=1e-6)


# ----------------------------------------------------------------------------
# Validation.
# ----------------------------------------------------------------------------

IMG = jnp.zeros((2, 5, 5, 1))
GRID = jnp.zeros((2, 3, 3, 2))
THETA = jnp.zeros((2, 2, 3))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(images=jnp.zeros((5, 5, 1)), grid=GRID), r"rank 4.*\(5, 5, 1\)"),
        (dict(images=IMG, grid=jnp.zeros((2, 3, 3, 3))), r"\(2, 3, 3, 3\)"),
        (dict(images=IMG, grid=jnp.zeros((2, 9, 2))), r"\(2, 9, 2\)"),
        (dict(images=IMG, grid=jnp.zeros((3, 3, 3, 2))), r"same batch size.*\(3, 3, 3, 2\)"),
        (dict(images=jnp.zeros((2, 5, 5, 1), jnp.int32), grid=GRID), r"floating.*int32"),
        (dict(images=IMG, grid=jnp.zeros((2, 3, 3, 2), jnp.int32)), r"grid must have a floating"),
        (dict(images=IMG, grid=GRID, padding_mode="mirror"), r"padding_mode.*mirror"),
    ],
)
@pytest.mark.parametrize("fn", [ops.bilinear_sample, ops.nearest_sample])
def test_sampling_validation(fn, kwargs, match):
  with pytest.raises(ValueError, match=match):
    fn(**kwargs)


def test_bilinear_implementation_validation():
  with pytest.raises(ValueError, match="implementation"):
    ops.bilinear_sample(IMG, GRID, implementation="cuda")


@pytest.mark.parametrize(
    "theta,size,match",
    [
        (jnp.zeros((2, 3, 3)), (2, 3, 3, 1), r"\(N, 2, 3\).*\(2, 3, 3\)"),
        (jnp.zeros((2, 6)), (2, 3, 3, 1), r"\(2, 6\)"),
        (THETA, (2, 3, 3), r"4 positive entries"),
        (THETA, (2, 0, 3, 1), r"4 positive entries.*\(2, 0, 3, 1\)"),
        (THETA, (3, 3, 3, 1), r"batch size.*\(2, 2, 3\)"),
        (jnp.zeros((2, 2, 3), jnp.int32), (2, 3, 3, 1), r"floating"),
        (THETA, 7, r"sequence"),
    ],
)
def test_affine_grid_validation(theta, size, match):
  with pytest.raises(ValueError, match=match):
    ops.affine_grid(theta, size)


@pytest.mark.parametrize("backend,expected", [
    ("cpu", "jnp"), ("gpu", "jnp"), ("tpu", "pallas")])
def test_default_sampler_per_backend(monkeypatch, backend, expected):
  """The table, backend by backend (faked, so every entry is tested on a
  CPU-only CI), and the same answer through JAX's own default backend."""
  monkeypatch.delenv("DEEPVSSHALLOW_SAMPLER", raising=False)
  assert sampling.default_implementation(backend) == expected
  monkeypatch.setattr(sampling.jax, "default_backend", lambda: backend)
  assert sampling.default_implementation() == expected


@pytest.mark.parametrize("name,backend,message", [
    ("cuda", "cpu", "'cuda' is not a sampler; use one of jnp, pallas, "
     "pallas_gather"),
    ("pallas_gather", "tpu", "cannot run on tpu (it runs on cpu, gpu); use "
     "one of jnp, pallas"),
])
def test_a_bad_sampler_is_one_line(monkeypatch, name, backend, message):
  monkeypatch.setenv("DEEPVSSHALLOW_SAMPLER", name)
  with pytest.raises(UsageError) as e:
    sampling.default_implementation(backend)
  assert message in str(e.value) and "\n" not in str(e.value)
  monkeypatch.setenv("DEEPVSSHALLOW_SAMPLER", "pallas_gather")
  assert sampling.default_implementation("gpu") == "pallas_gather"


def test_a_bad_sampler_in_a_launcher_is_exit_2(tmp_path):
  from conftest import launch
  proc = launch("stn", f"--workdir={tmp_path / 'never'}",
                env={"DEEPVSSHALLOW_SAMPLER": "cuda"}, timeout=120)
  assert proc.returncode == 2, proc.stderr[-2000:]
  lines = [l for l in proc.stderr.splitlines() if l.strip()]
  assert len(lines) == 1 and "DEEPVSSHALLOW_SAMPLER='cuda'" in lines[0]
  assert not (tmp_path / "never").exists()


# ----------------------------------------------------------------------------
# Optional: PyTorch itself (skipped when torch is not installed, e.g. in CI).
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("align_corners,padding_mode", MODES)
def test_matches_torch(align_corners, padding_mode):
  torch = pytest.importorskip("torch")
  F = torch.nn.functional
  images, theta, size = _random_inputs(seed=7, spread=0.6)
  images, theta = images.astype(np.float32), theta.astype(np.float32)
  n, h, w, c = size
  cot = np.random.default_rng(8).standard_normal(size).astype(np.float32)

  img_t = torch.tensor(images).permute(0, 3, 1, 2).requires_grad_(True)
  theta_t = torch.tensor(theta).requires_grad_(True)
  grid_t = F.affine_grid(theta_t, (n, c, h, w), align_corners=align_corners)
  out_t = F.grid_sample(
      img_t, grid_t, mode="bilinear", padding_mode=padding_mode,
      align_corners=align_corners,
  )
  (out_t * torch.tensor(cot).permute(0, 3, 1, 2)).sum().backward()
  near_t = F.grid_sample(
      img_t.detach(), grid_t.detach(), mode="nearest", padding_mode=padding_mode,
      align_corners=align_corners,
  )

  loss = _loss_fn(size, padding_mode, align_corners, jnp.asarray(cot))
  grid = ops.affine_grid(jnp.asarray(theta), size, align_corners=align_corners)
  np.testing.assert_allclose(grid, grid_t.detach().numpy(), atol=1e-6)
  out = ops.bilinear_sample(
      jnp.asarray(images), grid, padding_mode=padding_mode, align_corners=align_corners
  )
  nhwc = lambda t: t.detach().permute(0, 2, 3, 1).numpy()
  np.testing.assert_allclose(out, nhwc(out_t), atol=1e-5)
  near = ops.nearest_sample(
      jnp.asarray(images), jnp.asarray(grid_t.detach().numpy()),
      padding_mode=padding_mode, align_corners=align_corners,
  )
  np.testing.assert_allclose(near, nhwc(near_t), atol=0)
  d_images, d_theta = jax.grad(loss, (0, 1))(jnp.asarray(images), jnp.asarray(theta))
  np.testing.assert_allclose(d_images, nhwc(img_t.grad), atol=1e-5)
  np.testing.assert_allclose(d_theta, theta_t.grad.numpy(), rtol=1e-4, atol=1e-4)


GOLDEN = os.path.join(os.path.dirname(__file__), 'data', 'torch_grid_sample.npz')


@pytest.mark.parametrize('mode', ['bilinear', 'nearest'])
@pytest.mark.parametrize('padding_mode', PADDING)
@pytest.mark.parametrize('align_corners', [False, True])
def test_matches_stored_torch_outputs_and_gradients(mode, padding_mode,
                                                    align_corners):
  """PyTorch 2.13's own numbers (tests/data/make_torch_golden.py), so this
  runs without torch installed."""
  g = np.load(GOLDEN)
  key = f'{mode}_{padding_mode}_{"ac" if align_corners else "noac"}'
  images = jnp.asarray(g['images_NCHW'].transpose(0, 2, 3, 1))
  cot = jnp.asarray(g['cotangent_NCHW'].transpose(0, 2, 3, 1))
  theta = jnp.asarray(g['theta'])
  sample = ops.bilinear_sample if mode == 'bilinear' else ops.nearest_sample

  def f(images, theta):
    grid = ops.affine_grid(theta, (2, 4, 7, 3), align_corners=align_corners)
    return sample(images, grid, padding_mode=padding_mode,
                  align_corners=align_corners)

  grid = ops.affine_grid(theta, (2, 4, 7, 3), align_corners=align_corners)
  np.testing.assert_allclose(grid, g[f'{key}/grid'], rtol=1e-6, atol=1e-6)
  out, vjp = jax.vjp(f, images, theta)
  np.testing.assert_allclose(out, g[f'{key}/out'].transpose(0, 2, 3, 1),
                             rtol=1e-5, atol=1e-5)
  g_images, g_theta = vjp(cot)
  np.testing.assert_allclose(
      g_images, g[f'{key}/grad_images'].transpose(0, 2, 3, 1),
      rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(g_theta, g[f'{key}/grad_theta'], rtol=1e-4,
                             atol=1e-4)


@pytest.mark.parametrize('implementation', sampling.SAMPLERS)
@pytest.mark.parametrize('align_corners', [False, True])
def test_reflection_far_outside_matches_stored_torch(implementation,
                                                     align_corners):
  """theta scales by 3 and shifts, so points fold over several mirrors on
  each axis: values and both gradients as torch 2.13 gives them, for every
  sampler (the Pallas kernels in interpret mode on CPU)."""
  g = np.load(GOLDEN)
  key = f'far_{"ac" if align_corners else "noac"}'
  images = jnp.asarray(g['far/images_NCHW'].transpose(0, 2, 3, 1))
  cot = jnp.asarray(g['far/cotangent_NCHW'].transpose(0, 2, 3, 1))

  def f(images, theta):
    grid = ops.affine_grid(theta, (1, 6, 8, 2), align_corners=align_corners)
    return ops.bilinear_sample(images, grid, padding_mode='reflection',
                               align_corners=align_corners,
                               implementation=implementation)

  out, vjp = jax.vjp(f, images, jnp.asarray(g['far/theta']))
  np.testing.assert_allclose(out, g[f'{key}/out'].transpose(0, 2, 3, 1),
                             rtol=1e-5, atol=1e-5)
  g_images, g_theta = vjp(cot)
  np.testing.assert_allclose(
      g_images, g[f'{key}/grad_images'].transpose(0, 2, 3, 1), atol=1e-5)
  np.testing.assert_allclose(g_theta, g[f'{key}/grad_theta'], rtol=1e-4,
                             atol=1e-4)


@pytest.mark.parametrize('mode', ['bilinear', 'nearest'])
@pytest.mark.parametrize('align_corners', [False, True])
@pytest.mark.parametrize('wh', ['1x1', '2x3', '5x1'])
def test_reflection_at_the_edges_matches_stored_torch(mode, align_corners,
                                                      wh):
  """Tiny images (one-pixel axes too), x on a mirror, a hair either side,
  many spans away, up to 1e9 and infinite: torch 2.13's values, and its
  gradients at the finite points."""
  g = np.load(GOLDEN)
  key = f'edge/{wh}/{mode}_{"ac" if align_corners else "noac"}'
  images = jnp.asarray(g[f'edge/{wh}/image_NCHW'].transpose(0, 2, 3, 1))
  x = g['edge/x']
  grid = np.zeros((1, 2, len(x), 2), np.float32)
  grid[0, :, :, 0] = x
  grid[0, 1, :, 1] = 0.7
  sample = ops.bilinear_sample if mode == 'bilinear' else ops.nearest_sample
  f = lambda i, gr: sample(i, gr, padding_mode='reflection',
                           align_corners=align_corners)
  np.testing.assert_allclose(f(images, jnp.asarray(grid)),
                             g[f'{key}/out'].transpose(0, 2, 3, 1),
                             rtol=1e-5, atol=1e-5)
  finite = jnp.asarray(grid[:, :, np.isfinite(x)])
  out, vjp = jax.vjp(f, images, finite)
  d_images, d_grid = vjp(jnp.ones_like(out))
  np.testing.assert_allclose(d_images, g[f'{key}/grad_images'].transpose(
      0, 2, 3, 1), rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(d_grid, g[f'{key}/grad_grid'], rtol=1e-4,
                             atol=1e-3)


# The padding rule is applied before dispatch (grid_to_pixels): each
# padding mode on jnp, and the kernels (which compute in the dtype) on one.
@pytest.mark.parametrize('implementation,padding_mode', [
    ('jnp', p) for p in PADDING] + [(k, 'reflection') for k in (
        'pallas', 'pallas_gather')])
@pytest.mark.parametrize('dtype', ['bfloat16', 'float16'])
def test_low_precision_matches_stored_torch(implementation, dtype,
                                            padding_mode):
  """bfloat16 and float16 images and grids (9x40, so a bfloat16 pixel
  coordinate has a step of 0.125), against torch 2.13: torch in float32 on
  the same rounded values is the precise answer, and we are within one
  rounding of the output dtype of it. torch in the low dtype rounds its
  coordinates to that dtype and is further off (up to 0.3 here); we are
  nowhere further from the precise answer than it is."""
  g = np.load(GOLDEN)
  images = jnp.asarray(g[f'{dtype}/images_NCHW'].transpose(0, 2, 3, 1),
                       dtype)
  grid = jnp.asarray(g[f'{dtype}/grid'], dtype)
  out = ops.bilinear_sample(images, grid, padding_mode=padding_mode,
                            implementation=implementation)
  assert out.dtype == dtype
  precise = g[f'{dtype}/{padding_mode}/out_float32'].transpose(0, 2, 3, 1)
  torch_low = g[f'{dtype}/{padding_mode}/out'].transpose(0, 2, 3, 1)
  ours = np.abs(np.asarray(out, np.float32) - precise)
  ulp = float(jnp.finfo(dtype).eps) * np.maximum(np.abs(precise), 1.0)
  assert np.all(ours <= ulp), ours.max()
  assert np.all(ours <= np.abs(torch_low - precise) + ulp)


@pytest.mark.parametrize('mode', ['bilinear', 'nearest'])
@pytest.mark.parametrize('padding_mode', PADDING)
@pytest.mark.parametrize('align_corners', [False, True])
def test_nan_in_the_grid_matches_torchs_documented_rule(mode, padding_mode,
                                                        align_corners):
  """torch documents that NaN in the grid reads as -1. torch 2.13 itself
  follows it with border and reflection (there we equal its output on the
  NaN grid), but not with zeros (bilinear returns NaN, nearest 0 from an
  out-of-range integer cast); there we equal torch's output on the grid
  with NaN replaced by -1, the rule as written."""
  g = np.load(GOLDEN)
  images = jnp.asarray(g['nan/images_NCHW'].transpose(0, 2, 3, 1))
  sample = ops.bilinear_sample if mode == 'bilinear' else ops.nearest_sample
  out = sample(images, jnp.asarray(g['nan/grid']), padding_mode=padding_mode,
               align_corners=align_corners)
  suffix = f'{mode}_{padding_mode}_{"ac" if align_corners else "noac"}'
  rule = g[f'nan_as_minus_one/{suffix}'].transpose(0, 2, 3, 1)
  np.testing.assert_allclose(out, rule, rtol=1e-6, atol=1e-6)
  torch_on_nan = g[f'nan/{suffix}'].transpose(0, 2, 3, 1)
  if padding_mode != 'zeros':
    np.testing.assert_allclose(out, torch_on_nan, rtol=1e-6, atol=1e-6)


def test_empty_shapes_are_torchs():
  """The output shapes torch 2.13 gives for an empty batch, channel axis or
  output grid (stored as N, C, H_out, W_out, then torch's NCHW shape)."""
  for n, c, h_out, w_out, *torch_shape in np.load(GOLDEN)['empty_shapes']:
    out = ops.bilinear_sample(jnp.ones((n, 5, 6, c)),
                              jnp.zeros((n, h_out, w_out, 2)))
    tn, tc, th, tw = torch_shape
    assert out.shape == (tn, th, tw, tc)


# ----------------------------------------------------------------------------
# Kinks at the STN workload: which side of a pixel centre the gradient takes.
# ----------------------------------------------------------------------------

def _affine_grid_np(theta, hw, align_corners, dtype):
  """torch's affine_grid in numpy at `dtype` (base grid, then theta)."""
  def steps(n):
    s = np.linspace(-1, 1, n, dtype=dtype)
    return s if align_corners else s * dtype((n - 1) / n)
  t = theta.astype(dtype)[:, :, :, None, None]
  x, y = steps(hw[1])[None, None, :], steps(hw[0])[None, :, None]
  return (t[:, 0, 0] * x + t[:, 0, 1] * y + t[:, 0, 2],
          t[:, 1, 0] * x + t[:, 1, 1] * y + t[:, 1, 2])


def _unnormalize_np(coord, size, align_corners):
  dtype = coord.dtype.type
  if align_corners:
    return (coord + dtype(1)) / dtype(2) * dtype(size - 1)
  return ((coord + dtype(1)) * dtype(size) - dtype(1)) / dtype(2)


def _taps_from_gradient(grid, align_corners, in_hw):
  """The left tap the sampler used for each point's x, read off its
  gradient: on the image v = col², d out / d x = 2 x0 + 1."""
  n = grid.shape[0]
  h, w = in_hw
  cols = jnp.arange(w, dtype=jnp.float32) ** 2
  images = jnp.broadcast_to(cols, (n, h, w))[..., None]
  d_grid = jax.grad(lambda g: jnp.sum(ops.bilinear_sample(
      images, g, align_corners=align_corners, implementation="jnp")))(grid)
  scale = (w - 1) / 2 if align_corners else w / 2
  return np.round((np.asarray(d_grid[..., 0], np.float64) / scale - 1) / 2)


@pytest.mark.parametrize("align_corners", [False, True])
def test_kinks_stay_where_the_coordinates_are_at_stn_size(align_corners):
  """256 images 60x60 -> 28x28 (the STN workload). Against a float64
  evaluation, the side of the kink our gradient takes flips at no more
  points than torch's float32 arithmetic (transcribed in numpy) does: for
  the sampler given the same grid, and for theta -> grid -> sample."""
  rng = np.random.default_rng(0)
  n, in_hw, out_hw = 256, (60, 60), (28, 28)
  theta = (np.array([[1, 0, 0], [0, 1, 0]], np.float32)
           + 0.1 * rng.standard_normal((n, 2, 3)).astype(np.float32))
  # Scale 0.5, shift into the interior, so no point nears the border (where
  # zero padding changes the slope) and the image's slopes tell taps apart.
  theta[:, :, :2] *= 0.5
  theta[:, :, 2] = np.clip(theta[:, :, 2], -0.3, 0.3)
  grid = ops.affine_grid(jnp.asarray(theta), (n, *out_hw, 1),
                         align_corners=align_corners)
  ours = _taps_from_gradient(grid, align_corners, in_hw)
  w = in_hw[1]
  gx32 = np.asarray(grid[..., 0])
  # The sampler given the same grid: float64 of that grid is the truth.
  truth = np.floor(_unnormalize_np(gx32.astype(np.float64), w, align_corners))
  torch_like = np.floor(_unnormalize_np(gx32, w, align_corners))
  same_grid = (int((ours != truth).sum()), int((torch_like != truth).sum()))
  # theta -> grid -> sample: the truth is the float64 grid of theta.
  truth = np.floor(_unnormalize_np(
      _affine_grid_np(theta, out_hw, align_corners, np.float64)[0], w,
      align_corners))
  torch_like = np.floor(_unnormalize_np(
      _affine_grid_np(theta, out_hw, align_corners, np.float32)[0], w,
      align_corners))
  from_theta = (int((ours != truth).sum()), int((torch_like != truth).sum()))
  assert same_grid[0] <= same_grid[1], same_grid
  # From theta, our affine_grid rounds as XLA fuses it and torch's as its bmm
  # does (the numpy transcription is a third order): over 12 seeds x both
  # align_corners, torch itself flipped 6 points and we 9 of 4.8 million
  # (BUILD_NOTES.md), so a couple either way is rounding, not a moved kink.
  assert from_theta[0] <= from_theta[1] + 2, from_theta
  # A handful of 200,704 points, as float32 rounding allows (the coordinate
  # snap this replaced flipped 123 over a smaller sweep).
  assert max(same_grid[0], from_theta[0]) <= 10, (same_grid, from_theta)


# The case: width 40, a bfloat16 grid. Each value by hand from the
# grid's bfloat16 values (-0.44921875, 0.10009766, 0.62109375): pixel
# x = ((g + 1) 40 - 1) / 2 = 10.515625, 21.50195, 31.921875 on the ramp
# 0..39, rounded to bfloat16 (steps 0.0625 below 16, 0.125 below 32).
@pytest.mark.parametrize("implementation", sampling.SAMPLERS)
def test_a_bfloat16_grid_keeps_its_fractions(implementation):
  w = 40
  img = jnp.arange(w, dtype=jnp.bfloat16).reshape(1, 1, w, 1)
  g = jnp.array([[[[-0.45, 0], [0.1, 0], [0.62, 0]]]], jnp.bfloat16)
  out = ops.bilinear_sample(img, g, implementation=implementation)
  assert out.dtype == jnp.bfloat16
  # Floor sampling (every fraction snapped) gave 10, 21, 31.
  np.testing.assert_array_equal(np.asarray(out, np.float32).ravel(),
                                [10.5, 21.5, 31.875])


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_low_precision_grids_match_the_float64_reference(dtype):
  """Coordinates and taps computed in float32 whatever the dtype: the
  result is the float64 reference on the same (rounded) inputs, to within
  one rounding of the output dtype."""
  images, theta, size = _random_inputs(seed=3, in_hw=(9, 40),
                                       out_hw=(5, 7), spread=0.9)
  images = jnp.asarray(images * 40, dtype)
  grid = jnp.asarray(ref_affine_grid(theta, size, False), dtype)
  want = ref_grid_sample(np.asarray(images, np.float64),
                         np.asarray(grid, np.float64), "bilinear", "zeros",
                         False)
  got = np.asarray(ops.bilinear_sample(images, grid), np.float64)
  ulp = np.asarray(jnp.finfo(dtype).eps, np.float64) * np.maximum(
      np.abs(want), 1.0)
  assert np.all(np.abs(got - want) <= ulp)
  # And the grid's gradient comes back in the grid's dtype.
  g = jax.grad(lambda gr: ops.bilinear_sample(images, gr).astype(
      jnp.float32).sum())(grid)
  assert g.dtype == dtype


@pytest.mark.parametrize("implementation", sampling.SAMPLERS)
@pytest.mark.parametrize("n,out_hw,c", [(0, (3, 4), 2), (2, (0, 4), 2),
                                        (2, (3, 0), 2), (2, (3, 4), 0)])
def test_empty_batch_grid_or_channels_give_an_empty_output(implementation, n,
                                                           out_hw, c):
  """As torch: an empty batch, output grid or channel axis is an empty
  output of the right shape (the Pallas kernels crashed on N = 0 or
  H_out = 0), and its gradients are empty too."""
  images = jnp.ones((n, 5, 6, c), jnp.float32)
  grid = jnp.zeros((n, *out_hw, 2), jnp.float32)
  out = ops.bilinear_sample(images, grid, implementation=implementation)
  assert out.shape == (n, *out_hw, c) and out.dtype == jnp.float32
  assert ops.nearest_sample(images, grid).shape == (n, *out_hw, c)
  if implementation == "jnp":   # The empty output returns before dispatch.
    gi, gg = jax.grad(lambda i, g: ops.bilinear_sample(
        i, g, implementation=implementation).sum(), argnums=(0, 1))(images,
                                                                    grid)
    assert gi.shape == images.shape and gg.shape == grid.shape


def test_empty_spatial_input_is_still_refused():
  with pytest.raises(ValueError, match="non-empty H_in and W_in"):
    ops.bilinear_sample(jnp.ones((1, 0, 4, 1)), jnp.zeros((1, 2, 2, 2)))


@pytest.mark.parametrize("implementation", sampling.SAMPLERS)
@pytest.mark.parametrize("padding_mode,want", [("border", 4.0),
                                               ("zeros", 2.0)])
def test_nan_in_the_grid_reads_as_minus_one(implementation, padding_mode,
                                            want):
  """torch's documented rule. x = NaN -> -1, the left edge: pixel -0.5
  (align_corners=False). Border clips it to pixel 0 of the middle row
  (value 4); zeros padding takes half of it (the tap at -1 reads 0)."""
  images = np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3, 1)
  grid = np.array([[[[np.nan, 0.0]]]], np.float32)
  out = ops.bilinear_sample(images, grid, padding_mode=padding_mode,
                            implementation=implementation)
  np.testing.assert_array_equal(np.asarray(out).ravel(), [want])
  # Nearest: -0.5 rounds half to even, to pixel 0 (4) in both modes.
  np.testing.assert_array_equal(np.asarray(ops.nearest_sample(
      images, grid, padding_mode=padding_mode)).ravel(), [4.0])
  if implementation == "jnp":   # The rule is applied before dispatch.
    g = jax.grad(lambda gr: ops.bilinear_sample(
        images, gr, padding_mode=padding_mode,
        implementation=implementation).sum())(jnp.asarray(grid))
    assert np.isfinite(np.asarray(g)).all()
