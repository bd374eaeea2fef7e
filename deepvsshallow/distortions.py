"""Distorted digits for the spatial-transformer experiment (Jaderberg et al. 2015).

  R    rotation, uniform in +-90 degrees, on the (margin-padded) image's canvas.
  RTS  rotation +-45 degrees, scale 0.7-1.2, and a random placement on a canvas
       1.5x the image (42x42 for 28x28 MNIST; in proportion for smaller ones).

Images are distorted with this package's own `affine_grid` + `bilinear_sample`
(align_corners=False, zero padding), jitted and batched, once per split: the
result is a plain uint8 `data.Dataset`, cached on disk, that trains like any
other. Deterministic given the seed; each split has its own stream.

Conventions: the affine `theta` maps output (canvas) coordinates to input
(image) coordinates, both normalised to [-1, 1], x first, as in PyTorch.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import os

import jax
import jax.numpy as jnp
import numpy as np

from deepvsshallow import data as data_lib
from deepvsshallow import ops, report
from deepvsshallow.ops import transforms
from deepvsshallow.errors import UsageError

KINDS = ('R', 'RTS')
_CACHE_VERSION = 4  # Bump when the generated images change for a given key.
# 4: theta from `ops.transforms` (a few pixels in a million move by one grey
#    level: float rounding of the composed matrix).


@dataclasses.dataclass(frozen=True)
class DistortionSpec:
  kind: str
  margin: int        # Zero pixels added on each side before distorting.
  canvas: int        # Output canvas side (square).
  max_rotation_deg: float
  scale_range: tuple[float, float]
  translate: bool


def spec_for(kind: str, image_hw: tuple[int, int], *, margin: int = 0
             ) -> DistortionSpec:
  """The paper's R / RTS settings for images of this size."""
  if kind not in KINDS:
    raise UsageError(f'unknown distortion {kind!r}; known: {", ".join(KINDS)}.')
  if image_hw[0] != image_hw[1]:
    raise UsageError(f'distortions expect square images, got {image_hw}.')
  side = image_hw[0] + 2 * margin
  if kind == 'R':
    return DistortionSpec('R', margin, side, 90.0, (1.0, 1.0), False)
  return DistortionSpec('RTS', margin, int(round(1.5 * side)), 45.0,
                        (0.7, 1.2), True)


def compose_theta(angle, scale, shift_N2, canvas: int, side: int):
  """(N, 2, 3) canvas-to-image maps for digits rotated by `angle` (radians,
  counter-clockwise as seen on screen), scaled by `scale` and centred
  `shift_N2` pixels (x, y) from the canvas centre (`ops.transforms`: the
  content moves by T R S about the image centre)."""
  scale = jnp.asarray(scale)
  matrix = transforms.affine_matrix(angle, jnp.stack([scale, scale], -1),
                                    shift_N2)
  return transforms.theta_from_matrix(matrix, (side, side), (canvas, canvas))


def sample_thetas(key, n: int, spec: DistortionSpec, side: int) -> jax.Array:
  """(n, 2, 3) random canvas-to-image maps for this distortion."""
  k_rot, k_scale, k_t = jax.random.split(key, 3)
  angle = jnp.deg2rad(spec.max_rotation_deg) * jax.random.uniform(
      k_rot, (n,), minval=-1.0, maxval=1.0)
  scale = jax.random.uniform(k_scale, (n,), minval=spec.scale_range[0],
                             maxval=spec.scale_range[1])
  if spec.translate:
    # Keep the scaled image's box on the canvas.
    room = (spec.canvas - scale * side)[:, None] / 2
    shift = room * jax.random.uniform(k_t, (n, 2), minval=-1.0, maxval=1.0)
  else:
    shift = jnp.zeros((n, 2))
  return compose_theta(angle, scale, shift, spec.canvas, side)


@functools.partial(jax.jit, static_argnums=2)
def _apply(images_NHWC, theta_N23, canvas: int):
  n, _, _, c = images_NHWC.shape
  out = ops.bilinear_sample(
      images_NHWC, ops.affine_grid(theta_N23, (n, canvas, canvas, c)),
      padding_mode='zeros', align_corners=False)
  return jnp.clip(jnp.round(out), 0, 255).astype(jnp.uint8)


def distort_split(split: data_lib.Split, spec: DistortionSpec, key,
                  *, chunk: int = 4096) -> data_lib.Split:
  images = np.pad(split.inputs, [(0, 0), (spec.margin,) * 2,
                                 (spec.margin,) * 2, (0, 0)])
  n, side = images.shape[:2]
  thetas = sample_thetas(key, n, spec, side)
  out = []
  for start in range(0, n, chunk):
    block = jnp.asarray(images[start:start + chunk], jnp.float32)
    out.append(np.asarray(_apply(block, thetas[start:start + chunk],
                                 spec.canvas)))
  return data_lib.Split(np.concatenate(out), split.targets)


def _cached(path: str | None, make):
  if path and os.path.exists(path):
    with np.load(path) as f:
      return data_lib.Split(f['inputs'], f['targets'])
  split = make()
  if path:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    buf = io.BytesIO()
    np.savez(buf, inputs=split.inputs, targets=split.targets)
    report.atomic_write(path, buf.getvalue())
  return split


def distorted_dataset(dataset: data_lib.Dataset, kind: str, *, seed: int = 0,
                      margin: int = 0, cache_dir: str | None = None
                      ) -> data_lib.Dataset:
  """`dataset` with every split distorted once; test stays lazy.

  With `cache_dir`, each split is stored as .npz keyed by a hash of its
  pixels and labels, the distortion and the seed, and reused by later runs.
  """
  if dataset.input_convention != 'pixels':
    raise UsageError(f'distortions need uint8 images (input convention '
                     f"'pixels'); {dataset.name} has "
                     f'{dataset.input_convention!r}.')
  spec = spec_for(kind, dataset.input_shape[:2], margin=margin)
  base = jax.random.key(seed)

  def path(name, split):
    if not cache_dir:
      return None
    h = hashlib.sha1(repr((_CACHE_VERSION, spec, seed)).encode())
    h.update(split.inputs.tobytes())
    h.update(split.targets.tobytes())
    tag = h.hexdigest()[:16]
    return os.path.join(cache_dir, f'{dataset.name}-{kind}-{name}-{tag}.npz')

  def make(name, split, stream):
    return _cached(path(name, split), lambda: distort_split(
        split, spec, jax.random.fold_in(base, stream)))

  return data_lib.Dataset(
      name=f'{dataset.name}-{kind}',
      train=make('train', dataset.train, 0),
      validation=make('validation', dataset.validation, 1),
      input_shape=(spec.canvas, spec.canvas, dataset.input_shape[2]),
      num_classes=dataset.num_classes,
      input_convention=dataset.input_convention,
      task=dataset.task,
      _read_test=lambda: make('test', dataset.test(), 2),
  )
