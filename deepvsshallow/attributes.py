"""Rendered two-attribute images: the lecture's "boys and girls, long and short
hair" example, as an embedded (generated, offline) dataset.

The lecture "Why deep learning?" argues that modular, shared features need less
data for a rare class. People are split into 4 groups by two binary attributes
(girl/boy, short/long hair), and "boys with long hair" is rare: a flat 4-way
classifier sees few of them, while a modular net that learns each attribute
separately (each has plenty of data) can combine them. This module makes that
experiment runnable: each example is a small grey-level picture of a "head"
(the glyph) with "hair" (the texture) around it.

Why rendered: each attribute is a visible factor of the image, drawn from its
own code path, and the two are independent by construction (the hair is placed
around a head radius shared by both shapes, never by the shape's own outline).
Every nuisance factor is drawn independently of both attributes, and the ink
(summed intensity) of each layer is normalised to a target that depends on
nuisances only, so neither attribute can be read from mean brightness.

Attributes (`ATTRIBUTES`), value 0 / value 1:

  shape    0 = ring (circle outline), the lecture's "girl";
           1 = plus (upright cross), the lecture's "boy".
  texture  0 = short hair: 6 short dashes spiking radially out of the top of
               the head, like a crew cut (a crown above the head);
           1 = long hair: 2 long strands, one per side, rooted on the upper
               sides of the head and hanging down past it, splayed 10 degrees
               outwards from vertical (pigtails).

Groups (`GROUPS`), group id = 2 * shape + texture:

  0 ring, short hair   ("girls with short hair")
  1 ring, long hair    ("girls with long hair")
  2 plus, short hair   ("boys with short hair")
  3 plus, long hair    ("boys with long hair", the lecture's rare group)

Nuisance factors, each drawn per image, uniformly, independently of the
attributes and of each other. Lengths are pixels at size 16 and scale with
`size` / 16; pixel centres are at i + 0.5 on a [0, size] canvas.

  position      head centre x = size/2 + U(-1.25, 1.25),
                head centre y = 0.42 * size + U(-1, 1) (6.72 +- 1 at 16).
  glyph size    head radius r ~ U(2.0, 2.8). The ring has radius r; the plus
                has half-arms r (round caps) and a stroke 1.45x wider.
  stroke width  glyph stroke w ~ U(0.9, 1.4); hair stroke ~ U(0.8, 1.1).
  glyph ink     both shapes are rescaled to the ink of the ideal ring,
                2 pi r w (the plus's rescale factor is 0.92 to 1.05, so both
                look equally bright).
  hair length   total hair length L ~ U(12, 15): 2 strands of L/2 (6 to 7.5)
                or 6 dashes of L/6 (2 to 2.5); the hair layer's ink is then
                rescaled to exactly L * (hair stroke), whatever the texture.
  orientation   the whole hairdo is turned by a tilt ~ U(-20, 20) degrees.
  phase         where hair roots sit on the head: strand roots at
                +-U(78, 100) degrees from the top (one draw, mirrored); dash
                roots every 26 degrees from -65 to +65, all shifted by
                U(-10, 10) degrees. Roots sit on a circle of radius
                r + 0.75 w + 0.6, just outside either glyph.
  contrast      foreground gain c ~ U(0.55, 0.85) over a background level
                b ~ U(0.0, 0.15).
  noise         additive Gaussian pixel noise, sigma ~ U(0.0, 0.08) per image.

An image is clip(b + c * (glyph + hair) + noise, 0, 1) where hair is masked
out under the glyph's stroke before its ink is normalised (so the layers do
not overlap and the sum stays in [0, 1] up to rare anti-aliasing overlap).

Storage: the project's 'pixels' convention, uint8 0..255 with shape
(N, size, size, 1); the engine divides by 255. Deterministic given the seed
(or the state of the `rng` passed to `render`).
"""

from __future__ import annotations

import numbers
from typing import Mapping, Sequence

import numpy as np

from deepvsshallow.errors import UsageError

ATTRIBUTES = ('shape', 'texture')
ATTRIBUTE_VALUES = {
    'shape': ('ring', 'plus'),       # Lecture: 0 = girl, 1 = boy.
    'texture': ('short', 'long'),    # Lecture: 0 = short hair, 1 = long hair.
}
# (group id, name, (shape, texture), lecture's name); id = 2 * shape + texture.
GROUPS = (
    (0, 'ring_short', (0, 0), 'girls with short hair'),
    (1, 'ring_long', (0, 1), 'girls with long hair'),
    (2, 'plus_short', (1, 0), 'boys with short hair'),
    (3, 'plus_long', (1, 1), 'boys with long hair'),
)
GROUP_NAMES = tuple(g[1] for g in GROUPS)
RARE_GROUP = 3  # shape 1 ("boy") and texture 1 ("long hair").
MIN_SIZE = 8

_N_STRANDS = 2      # Long hair: one strand per side.
_N_DASHES = 6       # Short hair.
_CHUNK = 2048       # Images rendered at once (bounds memory).


def group_of(attributes_N2: np.ndarray) -> np.ndarray:
  """Group ids, 2 * shape + texture, for (N, 2) attributes."""
  attributes_N2 = np.asarray(attributes_N2)
  return (2 * attributes_N2[:, 0] + attributes_N2[:, 1]).astype(np.int32)


def _check_size(size) -> int:
  if (not isinstance(size, numbers.Integral) or isinstance(size, bool)
      or size < MIN_SIZE):
    raise UsageError(f'size must be an integer >= {MIN_SIZE}, got {size!r}; '
                     f'pass e.g. size=16.')
  return int(size)


def _check_binary(name: str, values) -> np.ndarray:
  values_N = np.asarray(values)
  if values_N.ndim != 1:
    raise UsageError(f'{name} must be a 1-D array of 0/1 values, got shape '
                     f'{values_N.shape}; pass one value per image.')
  if values_N.size and (not np.issubdtype(values_N.dtype, np.integer)
                        and values_N.dtype != bool
                        or not np.isin(values_N, (0, 1)).all()):
    raise UsageError(f'{name} must hold only the integers 0 and 1, got '
                     f'values {np.unique(values_N)[:5].tolist()}; pass 0/1.')
  return values_N.astype(np.int32)


def _segment_coverage(px_P, py_P, x0, y0, x1, y1, width):
  """Anti-aliased coverage of segments, shape (n, k, P).

  Segment endpoints (x0, y0, x1, y1) and width are (n, k) arrays; the pixel
  centres px_P, py_P are flat (P,). Coverage = clip(w/2 + 0.5 - d, 0, 1),
  d the distance from the pixel centre to the segment.
  """
  dx, dy = (x1 - x0)[..., None], (y1 - y0)[..., None]
  rx, ry = px_P - x0[..., None], py_P - y0[..., None]
  len2 = np.maximum(dx * dx + dy * dy, 1e-6)
  t = np.clip((rx * dx + ry * dy) / len2, 0.0, 1.0)
  ex, ey = rx - t * dx, ry - t * dy
  dist = np.sqrt(ex * ex + ey * ey)
  return np.clip(width[..., None] / 2 + 0.5 - dist, 0.0, 1.0)


def _draw_nuisances(n: int, rng: np.random.Generator, size: int) -> dict:
  """Every per-image nuisance factor (see the module docstring), in pixels."""
  s = size / 16.0
  u = lambda lo, hi: rng.uniform(lo, hi, n)
  return dict(
      cx=size / 2 + s * u(-1.25, 1.25),
      cy=0.42 * size + s * u(-1.0, 1.0),
      r=s * u(2.0, 2.8),
      w=s * u(0.9, 1.4),
      hair_w=s * u(0.8, 1.1),
      hair_len=s * u(12.0, 15.0),
      tilt=np.deg2rad(u(-20.0, 20.0)),
      strand_phase=np.deg2rad(u(78.0, 100.0)),
      dash_phase=np.deg2rad(u(-10.0, 10.0)),
      contrast=u(0.55, 0.85),
      background=u(0.0, 0.15),
      noise=u(0.0, 0.08),
  )


def _render_chunk(shape_n, texture_n, nu: dict, size: int,
                  noise_nP: np.ndarray) -> np.ndarray:
  """Float images in [0, 1], shape (n, P) with P = size * size."""
  coords = np.arange(size, dtype=np.float64) + 0.5
  py_P, px_P = (a.ravel() for a in np.meshgrid(coords, coords, indexing='ij'))
  cx, cy, r, w = nu['cx'], nu['cy'], nu['r'], nu['w']
  col = lambda a: a[:, None]

  # Glyph. Ring: distance to the circle of radius r.
  ring_nP = np.clip(col(w) / 2 + 0.5 - np.abs(
      np.hypot(px_P - col(cx), py_P - col(cy)) - col(r)), 0.0, 1.0)
  # Plus: two bars of half-length r and width 1.45 w.
  a, pw = r, 1.45 * w
  zeros = np.zeros_like(cx)
  bars = _segment_coverage(
      px_P, py_P,
      np.stack([cx - a, cx + zeros], 1), np.stack([cy + zeros, cy - a], 1),
      np.stack([cx + a, cx + zeros], 1), np.stack([cy + zeros, cy + a], 1),
      np.stack([pw, pw], 1))
  plus_nP = bars.max(axis=1)
  glyph_nP = np.where(col(shape_n == 1), plus_nP, ring_nP)
  glyph_ink = 2 * np.pi * r * w  # The ideal ring's ink.
  glyph_nP *= col(glyph_ink / np.maximum(glyph_nP.sum(1), 1e-6))
  glyph_nP = np.minimum(glyph_nP, 1.0)

  # Hair: segments with roots just outside the glyph's stroke; angles are
  # measured clockwise from straight up (y points down on screen).
  root_r = r + 0.75 * w + 0.6 * size / 16
  n, k = len(cx), max(_N_STRANDS, _N_DASHES)

  def pad(x_nj):  # (n, j) -> (n, k); the padded segments are unused.
    x_nj = np.broadcast_to(x_nj, (n, x_nj.shape[-1]))
    return np.pad(x_nj, ((0, 0), (0, k - x_nj.shape[1])))

  # Long hair: one strand per side, rooted on the upper sides, hanging down
  # (180 degrees) splayed 10 degrees outwards.
  side_2 = np.array([1.0, -1.0])
  strand_root_nk = pad(side_2 * col(nu['strand_phase']))
  strand_dir_nk = pad(side_2[None] * np.deg2rad(180.0 - 10.0))
  strand_len_nk = pad(
      np.repeat(col(nu['hair_len'] / _N_STRANDS), _N_STRANDS, 1))
  # Short hair: dashes pointing radially out of the top of the head.
  dash_root_nk = pad(col(nu['dash_phase'])
                     + np.deg2rad(np.linspace(-65.0, 65.0, _N_DASHES)))
  dash_len_nk = pad(np.repeat(col(nu['hair_len'] / _N_DASHES), _N_DASHES, 1))
  long_n1 = col(texture_n == 1)
  tilt_n1 = col(nu['tilt'])
  root = np.where(long_n1, strand_root_nk, dash_root_nk) + tilt_n1
  direction = np.where(long_n1, strand_dir_nk, dash_root_nk) + tilt_n1
  length = np.where(long_n1, strand_len_nk, dash_len_nk)  # 0: unused.
  x0 = col(cx) + col(root_r) * np.sin(root)
  y0 = col(cy) - col(root_r) * np.cos(root)
  x1 = x0 + length * np.sin(direction)
  y1 = y0 - length * np.cos(direction)
  width = np.where(length > 0, col(nu['hair_w']), -2.0)  # -2: no coverage.
  hair_nP = _segment_coverage(px_P, py_P, x0, y0, x1, y1, width).max(axis=1)
  hair_nP *= 1.0 - glyph_nP
  hair_ink = nu['hair_len'] * nu['hair_w']
  hair_nP *= col(hair_ink / np.maximum(hair_nP.sum(1), 1e-6))
  hair_nP = np.minimum(hair_nP, 1.0)

  image_nP = (col(nu['background'])
              + col(nu['contrast']) * (glyph_nP + hair_nP)
              + col(nu['noise']) * noise_nP)
  return np.clip(image_nP, 0.0, 1.0)


def render(shape_N, texture_N, rng: np.random.Generator,
           size: int = 16) -> np.ndarray:
  """Renders one image per (shape, texture) pair.

  Args:
    shape_N: (N,) 0/1 values, 0 = ring ("girl"), 1 = plus ("boy").
    texture_N: (N,) 0/1 values, 0 = short hair, 1 = long hair.
    rng: the numpy Generator that draws every nuisance factor and the noise.
    size: side of the square image in pixels (>= 8).

  Returns:
    uint8 images, 0..255, shape (N, size, size, 1).
  """
  size = _check_size(size)
  if not isinstance(rng, np.random.Generator):
    raise UsageError(f'rng must be a numpy Generator, got '
                     f'{type(rng).__name__}; pass np.random.default_rng(seed).')
  shape_N = _check_binary('shape_N', shape_N)
  texture_N = _check_binary('texture_N', texture_N)
  if shape_N.shape != texture_N.shape:
    raise UsageError(f'shape_N and texture_N must have the same length, got '
                     f'{len(shape_N)} and {len(texture_N)}; pass one value of '
                     f'each per image.')
  n = len(shape_N)
  nu = _draw_nuisances(n, rng, size)
  images_NP = np.empty((n, size * size), np.uint8)
  for lo in range(0, n, _CHUNK):
    hi = min(n, lo + _CHUNK)
    noise_nP = rng.standard_normal((hi - lo, size * size))
    chunk_nu = {key: value[lo:hi] for key, value in nu.items()}
    image_nP = _render_chunk(shape_N[lo:hi], texture_N[lo:hi], chunk_nu, size,
                             noise_nP)
    images_NP[lo:hi] = np.round(image_nP * 255.0).astype(np.uint8)
  return images_NP.reshape(n, size, size, 1)


def _check_counts(counts) -> list[int]:
  """Per-group counts, as a list of 4 ints, from a dict or a sequence."""
  if isinstance(counts, Mapping):
    unknown = [key for key in counts
               if not isinstance(key, numbers.Integral) or not 0 <= key < 4]
    if unknown:
      raise UsageError(f'counts keys must be group ids 0..3 (2 * shape + '
                       f'texture), got {unknown!r}.')
    values = [counts.get(g, 0) for g in range(4)]
  elif isinstance(counts, Sequence) and not isinstance(counts, str) or (
      isinstance(counts, np.ndarray) and counts.ndim == 1):
    values = list(counts)
    if len(values) != 4:
      raise UsageError(f'counts needs 4 entries, one per group id 0..3, got '
                       f'{len(values)}; or pass a dict {{group_id: count}}.')
  else:
    raise UsageError(f'counts must be a dict {{group_id: count}} or 4 ints '
                     f'(one per group id 0..3), got {type(counts).__name__}.')
  for g, value in enumerate(values):
    if (not isinstance(value, numbers.Integral) or isinstance(value, bool)
        or value < 0):
      raise UsageError(f'count for group {g} ({GROUP_NAMES[g]}) must be an '
                       f'integer >= 0, got {value!r}; pass 0 to leave it out.')
  if sum(values) == 0:
    raise UsageError('counts are all zero; ask for at least one example, e.g. '
                     'counts=(100, 100, 100, 10).')
  return [int(v) for v in values]


def make_split(counts: Mapping[int, int] | Sequence[int], seed: int,
               size: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Exactly `counts[g]` examples of each group g, in a seeded random order.

  Args:
    counts: per group id (2 * shape + texture, see `GROUPS`): a dict
      {group_id: count} (missing ids mean 0) or a sequence of 4 counts.
    seed: integer >= 0; the same seed and arguments give the same split.
    size: side of the square images in pixels (>= 8).

  Returns:
    (images_NHW1 uint8 0..255, attributes_N2 int32 [shape, texture],
    groups_N int32), with the groups interleaved by a random permutation.
  """
  values = _check_counts(counts)
  if (not isinstance(seed, numbers.Integral) or isinstance(seed, bool)
      or seed < 0):
    raise UsageError(f'seed must be an integer >= 0, got {seed!r}; pass e.g. '
                     f'seed=0.')
  size = _check_size(size)
  rng = np.random.default_rng(int(seed))
  groups_N = np.repeat(np.arange(4, dtype=np.int32), values)
  groups_N = groups_N[rng.permutation(len(groups_N))]
  attributes_N2 = np.stack([groups_N // 2, groups_N % 2], 1).astype(np.int32)
  images_NHW1 = render(attributes_N2[:, 0], attributes_N2[:, 1], rng, size)
  return images_NHW1, attributes_N2, groups_N
