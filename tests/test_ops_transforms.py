"""deepvsshallow.ops.transforms: theta from rotation, scale, shear and
translation, checked by what the warp does to pixels (np.rot90, shifts, an
integer shear written with index arithmetic) and by closed forms."""

import jax.numpy as jnp
import numpy as np
import pytest

from deepvsshallow import ops
from deepvsshallow.ops import transforms


def _warp(image_HW, matrix, out_hw=None):
  """The image with its content moved by `matrix` (bilinear, zero padding,
  align_corners=False), one channel."""
  h, w = image_HW.shape
  out_hw = out_hw or (h, w)
  theta = transforms.theta_from_matrix(matrix, (h, w), out_hw)[None]
  grid = ops.affine_grid(theta, (1, *out_hw, 1))
  return np.asarray(ops.bilinear_sample(
      jnp.asarray(image_HW, jnp.float32)[None, :, :, None], grid))[0, :, :, 0]


def _image(h, w, seed=0):
  return np.random.default_rng(seed).standard_normal((h, w)).astype(
      np.float32)


@pytest.mark.parametrize('hw', [(7, 7), (6, 6)])
def test_a_quarter_turn_is_rot90(hw):
  """Counter-clockwise on screen, as np.rot90 shows an array (row 0 on
  top): content right of the centre moves above it."""
  image = _image(*hw)
  out = _warp(image, transforms.affine_matrix(angle=np.pi / 2))
  np.testing.assert_allclose(out, np.rot90(image), atol=1e-5)
  out = _warp(image, transforms.affine_matrix(angle=-np.pi / 2))
  np.testing.assert_allclose(out, np.rot90(image, -1), atol=1e-5)


def test_a_quarter_turn_of_a_wide_image_is_rot90():
  """In pixels, not normalised units: 5x8 turns into 8x5 exactly."""
  image = _image(5, 8, seed=1)
  out = _warp(image, transforms.affine_matrix(angle=np.pi / 2), (8, 5))
  np.testing.assert_allclose(out, np.rot90(image), atol=1e-5)


def test_a_whole_pixel_translation_is_a_shift_with_zeros():
  image = _image(6, 7, seed=2)
  out = _warp(image, transforms.affine_matrix(translation=(2.0, -1.0)))
  want = np.zeros_like(image)
  want[:-1, 2:] = image[1:, :-2]   # x right by 2, y up by 1.
  np.testing.assert_allclose(out, want, atol=1e-5)


def test_an_integer_shear_moves_rows_by_whole_pixels():
  """x' = x + y about the centre of a 7x7 image: output (x, y) shows input
  (x - y, y), pixel offsets from the centre counted by hand."""
  image = _image(7, 7, seed=3)
  out = _warp(image, transforms.affine_matrix(shear=(1.0, 0.0)))
  want = np.zeros_like(image)
  for row in range(7):
    for col in range(7):
      src = col - (row - 3)
      if 0 <= src < 7:
        want[row, col] = image[row, src]
  np.testing.assert_allclose(out, want, atol=1e-5)


def test_closed_forms_of_theta():
  # A 4x4 image scaled 2x fills an 8x8 output: normalised, the identity.
  np.testing.assert_allclose(
      transforms.theta_from_matrix(transforms.affine_matrix(scale=2.0),
                                   (4, 4), (8, 8)), np.eye(2, 3), atol=1e-6)
  # Unmoved on a canvas 1.5x the image: output +-1 reads input +-1.5.
  for identity in (jnp.eye(3), np.eye(3, dtype=int)):   # Integers too.
    np.testing.assert_allclose(
        transforms.theta_from_matrix(identity, (28, 28), (42, 42)),
        [[1.5, 0, 0], [0, 1.5, 0]], atol=1e-6)
  # Per-axis scale and a shift by a quarter of the width, on a 10x20 image:
  # theta = [[1/2, 0, -(5 / 10) / 2], [0, 1/3, 0]].
  m = transforms.affine_matrix(scale=(2.0, 3.0), translation=(5.0, 0.0))
  np.testing.assert_allclose(transforms.theta_from_matrix(m, (10, 20)),
                             [[0.5, 0, -0.25], [0, 1 / 3, 0]], atol=1e-6)


def test_compose_applies_the_last_first():
  a, b = 0.3, -1.1
  np.testing.assert_allclose(
      transforms.compose(transforms.affine_matrix(angle=a),
                         transforms.affine_matrix(angle=b)),
      transforms.affine_matrix(angle=a + b), atol=1e-6)
  turn = transforms.affine_matrix(angle=np.pi / 2)
  shift = transforms.affine_matrix(translation=(1.0, 0.0))
  # Shift right, then turn: the shift becomes a move up, (0, -1).
  np.testing.assert_allclose(
      transforms.compose(turn, shift) @ jnp.array([0.0, 0.0, 1.0]),
      [0.0, -1.0, 1.0], atol=1e-6)
  # The one-warp result equals the two warps in turn (whole pixels).
  image = _image(7, 7, seed=4)
  np.testing.assert_allclose(
      _warp(image, transforms.compose(turn, shift)),
      _warp(_warp(image, shift), turn), atol=1e-5)
  # T R S Sh: the kornia order, shear first and translation last.
  parts = dict(angle=0.4, scale=(1.5, 0.5), translation=(2.0, -3.0),
               shear=(0.2, -0.1))
  m = transforms.compose(
      transforms.affine_matrix(translation=parts['translation']),
      transforms.affine_matrix(angle=parts['angle']),
      transforms.affine_matrix(scale=parts['scale']),
      transforms.affine_matrix(shear=parts['shear']))
  np.testing.assert_allclose(transforms.affine_matrix(**parts), m, atol=1e-6)


def test_batches_broadcast():
  angles = jnp.array([0.0, np.pi / 2, np.pi])
  m = transforms.affine_matrix(angle=angles, translation=(1.0, 2.0))
  assert m.shape == (3, 3, 3)
  theta = transforms.theta_from_matrix(m, (5, 5))
  assert theta.shape == (3, 2, 3)
  # cos pi = -1: a half turn reverses both axes.
  np.testing.assert_allclose(m[2, :2, :2], -np.eye(2), atol=1e-6)


@pytest.mark.parametrize('kwargs,match', [
    (dict(scale=(1.0, 2.0, 3.0)), 'scale must be a scalar or have a '
     'trailing axis of 2'),
    (dict(translation=jnp.zeros((4, 3))), r'translation .*\(4, 3\)'),
])
def test_bad_shapes_are_one_line(kwargs, match):
  with pytest.raises(ValueError, match=match) as e:
    transforms.affine_matrix(**kwargs)
  assert '\n' not in str(e.value)
  with pytest.raises(ValueError, match=r'\(..., 3, 3\)'):
    transforms.theta_from_matrix(jnp.eye(2), (4, 4))
