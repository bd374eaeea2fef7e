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
/usr/share/datasets/fashion-mnist.) A missing, corrupt or truncated file, a
label out of range, or files whose first training labels are another known
dataset's raise a one-line `UsageError` that names the problem.
"""

from __future__ import annotations

import gzip
import os
import zlib

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
  """Whether `directory` has the four MNIST-format files: False when it has
  none, a one-line `UsageError` naming the missing ones when it has some."""
  if not directory or not os.path.isdir(directory):
    return False
  missing = [name for key, name in FILES.items()
             if find(directory, *key) is None]
  if len(missing) == len(FILES):
    return False
  if missing:
    raise UsageError(f'{directory} has {len(FILES) - len(missing)} of the '
                     f'four MNIST-format files; add {", ".join(missing)} '
                     '(plain or .gz), or point data_dir elsewhere.')
  return True


# The first ten training labels of the MNIST-format datasets whose files
# we know (MNIST's from its IDX files, Fashion-MNIST's from Debian's), so
# that one dataset's files are not trained on under another's name.
FIRST_TRAIN_LABELS = {'mnist': (5, 0, 4, 1, 9, 2, 1, 3, 1, 4),
                      'fashion_mnist': (9, 0, 0, 3, 0, 2, 7, 2, 5, 5)}


def check_labels(labels, num_classes: int, path: str) -> None:
  """Every label in 0..num_classes - 1."""
  bad = np.flatnonzero(labels >= num_classes)
  if bad.size:
    raise UsageError(f'{path} holds label {int(labels[bad[0]])} at index '
                     f'{int(bad[0])}; labels must be 0..{num_classes - 1}: '
                     'replace the file.')


def check_identity(name: str, directory: str, train_labels) -> None:
  """Refuses a directory whose training labels begin as another known
  dataset's do."""
  head = tuple(int(v) for v in train_labels[:10])
  for other, first in FIRST_TRAIN_LABELS.items():
    if other != name and head == first:
      raise UsageError(f'the IDX files in {directory} are {other}\'s (their '
                       f'first ten training labels are {other}\'s), not '
                       f'{name}\'s; use --config.dataset={other} or point '
                       'data_dir at the right files.')


def _bytes(path: str, limit: int | None = None) -> bytes:
  """The file's (decompressed) bytes, the first `limit` of them if given."""
  try:
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
      return f.read() if limit is None else f.read(limit)
  except (OSError, EOFError, zlib.error) as e:
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
  except (OSError, EOFError, zlib.error) as e:
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
  # A copy: np.frombuffer's view of the bytes is read-only.
  return np.frombuffer(raw, np.uint8, offset=header).reshape(shape).copy()


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


def check_split(directory: str, split: str, num_classes: int
                ) -> tuple[int, ...]:
  """The image shape (H, W, 1) of a split's files, both checked (`check`)
  and the labels' range, without keeping the images."""
  paths = _paths(directory, split)
  images = check(paths['images'], 'images')
  labels = read(paths['labels'], 'labels')
  _same_count(paths, images[0], len(labels))
  check_labels(labels, num_classes, paths['labels'])
  return (*images[1:], 1)


def read_split(directory: str, split: str) -> tuple[np.ndarray, np.ndarray]:
  """(images (N, H, W, 1) uint8, labels (N,) int32) of 'train' or 'test'."""
  paths = _paths(directory, split)
  images = read(paths['images'], 'images')
  labels = read(paths['labels'], 'labels')
  _same_count(paths, len(images), len(labels))
  return images[..., None], labels.astype(np.int32)
