"""MNIST-format IDX files from a directory, read without a download.

The IDX format (LeCun et al.'s MNIST page): a big-endian header, then the
data in C order. The header is two zero bytes, a type byte (0x08 for
unsigned bytes, the only one MNIST-family files use), a byte giving the
number of dimensions D, then D big-endian uint32 sizes. Images are
(N, 28, 28) uint8 (magic 0x00000803), labels (N,) uint8 (magic
0x00000801).

A directory holds a dataset when it has the four files MNIST, Fashion-MNIST
and KMNIST all ship, each plain or gzipped:

  train-images-idx3-ubyte  train-labels-idx1-ubyte
  t10k-images-idx3-ubyte   t10k-labels-idx1-ubyte

(Debian's `dataset-fashion-mnist` package puts Fashion-MNIST's in
/usr/share/datasets/fashion-mnist.) A missing, corrupt or truncated file
raises a one-line `UsageError` that names it.
"""

from __future__ import annotations

import gzip
import os

import numpy as np

from deepvsshallow.errors import UsageError

FILES = {('train', 'images'): 'train-images-idx3-ubyte',
         ('train', 'labels'): 'train-labels-idx1-ubyte',
         ('test', 'images'): 't10k-images-idx3-ubyte',
         ('test', 'labels'): 't10k-labels-idx1-ubyte'}
_UBYTE = 0x08
_DIMS = {'images': 3, 'labels': 1}


def find(directory: str, split: str, kind: str) -> str | None:
  """The file for (split, kind) in `directory`, plain or .gz; None if
  neither is there."""
  base = os.path.join(directory, FILES[(split, kind)])
  for path in (base, base + '.gz'):
    if os.path.isfile(path):
      return path
  return None


def holds_idx(directory: str) -> bool:
  """Whether `directory` has all four MNIST-format files."""
  return bool(directory) and all(find(directory, *key) for key in FILES)


def _bytes(path: str, limit: int | None = None) -> bytes:
  """The file's (decompressed) bytes, the first `limit` of them if given."""
  try:
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
      return f.read() if limit is None else f.read(limit)
  except (OSError, EOFError) as e:
    raise UsageError(f'cannot read IDX file {path}: {e}; replace it with '
                     'an intact copy.') from None


def _data_length(path: str) -> int:
  """Bytes in the (decompressed) file, counted without keeping them."""
  try:
    if not path.endswith('.gz'):
      return os.path.getsize(path)
    total = 0
    with gzip.open(path, 'rb') as f:
      while chunk := f.read(1 << 20):
        total += len(chunk)
    return total
  except (OSError, EOFError) as e:
    raise UsageError(f'cannot read IDX file {path}: {e}; replace it with '
                     'an intact copy.') from None


def check(path: str, kind: str | None = None) -> tuple[int, ...]:
  """The shape an IDX file's header declares, after checking its header
  and its length, without keeping its data (so a test split can be checked
  before training and read only after)."""
  shape, header = _header(path, _bytes(path, 4 + 4 * 255), kind)
  _check_length(path, shape, _data_length(path) - header)
  return shape


def _check_length(path: str, shape, data_bytes: int) -> None:
  size = int(np.prod(shape))
  if data_bytes != size:
    raise UsageError(f'{path} holds {data_bytes} bytes of data, its '
                     f'header says {size} ({"x".join(map(str, shape))}); '
                     'the file is truncated or corrupt: replace it.')


def read(path: str, kind: str | None = None) -> np.ndarray:
  """The array in an IDX file of unsigned bytes (gzipped if it ends in
  .gz). `kind` ('images' or 'labels') also checks the number of
  dimensions."""
  raw = _bytes(path)
  shape, header = _header(path, raw, kind)
  _check_length(path, shape, len(raw) - header)
  return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def _header(path: str, raw: bytes, kind: str | None
            ) -> tuple[tuple[int, ...], int]:
  """(shape, header length) from a file's first bytes."""
  if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
    raise UsageError(f'{path} is not an IDX file (bad magic number '
                     f'{raw[:4].hex() or "(empty)"}); replace it.')
  if raw[2] != _UBYTE:
    raise UsageError(f'{path} holds IDX type 0x{raw[2]:02x}; only unsigned '
                     'bytes (0x08) are read.')
  ndim = raw[3]
  if kind is not None and ndim != _DIMS[kind]:
    raise UsageError(f'{path} has {ndim} dimensions; IDX {kind} have '
                     f'{_DIMS[kind]}.')
  header = 4 + 4 * ndim
  if len(raw) < header:
    raise UsageError(f'{path} is truncated inside its header; replace it.')
  shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], 'big')
                for i in range(ndim))
  return shape, header


def _paths(directory: str, split: str) -> dict[str, str]:
  paths = {kind: find(directory, split, kind) for kind in _DIMS}
  for kind, path in paths.items():
    if path is None:
      raise UsageError(f'{directory} has no {FILES[(split, kind)]}[.gz]; '
                       'an IDX directory needs all four MNIST-format files.')
  return paths


def _same_count(paths, n_images: int, n_labels: int) -> None:
  if n_images != n_labels:
    raise UsageError(f'{paths["images"]} holds {n_images} images but '
                     f'{paths["labels"]} {n_labels} labels; replace the '
                     'pair.')


def check_split(directory: str, split: str) -> tuple[int, ...]:
  """The image shape (H, W, 1) of a split's files, both checked (`check`),
  without keeping their data."""
  paths = _paths(directory, split)
  images, labels = (check(paths[k], k) for k in ('images', 'labels'))
  _same_count(paths, images[0], labels[0])
  return (*images[1:], 1)


def read_split(directory: str, split: str) -> tuple[np.ndarray, np.ndarray]:
  """(images (N, H, W, 1) uint8, labels (N,) int32) of 'train' or 'test'."""
  paths = _paths(directory, split)
  images = read(paths['images'], 'images')
  labels = read(paths['labels'], 'labels')
  _same_count(paths, len(images), len(labels))
  return images[..., None], labels.astype(np.int32)
