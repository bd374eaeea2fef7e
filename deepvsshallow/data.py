"""Datasets: one registry, one interface, every dataset through TFDS.

`load_dataset(name)` returns a `Dataset` whose splits hold `inputs` and
`targets`. The validation split is carved from the TFDS train split by a
seeded permutation, so it is deterministic and never overlaps test. Test is
read only when `Dataset.test()` is called, which the runner does once, after
all training.

Every dataset declares its input convention, and `prepare_inputs` is the one
place that turns stored inputs into what a model sees:

  pixels  uint8 0..255, any shape (N, H, W, C)  ->  float32 in [0, 1]
  float   float32 features or signals, as stored
  bits    uint8 {0, 1}                          ->  float32 {0, 1}

The offline default, `digits`, is scikit-learn's bundled 8x8 digits prepared as
a TFDS dataset (array_record), so it travels the same path as the real ones.
TFDS is used without TensorFlow: `file_format='array_record'` and
`as_data_source()`.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import urllib.parse
from typing import Callable

import numpy as np
import tensorflow_datasets as tfds

from deepvsshallow.errors import UsageError

INPUT_CONVENTIONS = {
    'pixels': lambda x: x.astype('float32') / 255.0,
    'float': lambda x: x.astype('float32'),
    'bits': lambda x: x.astype('float32'),
}


def prepare_inputs(inputs, convention: str):
  """Stored inputs to the float32 a model sees (see the module docstring).

  Works on numpy and jax arrays alike; the engine calls it inside the step.
  """
  if convention not in INPUT_CONVENTIONS:
    raise UsageError(f'unknown input convention {convention!r}; known: '
                     f'{", ".join(INPUT_CONVENTIONS)}.')
  return INPUT_CONVENTIONS[convention](inputs)


@dataclasses.dataclass(frozen=True)
class Split:
  inputs: np.ndarray   # (N, ...) stored as the dataset's input convention says.
  targets: np.ndarray  # (N,) int32 labels, or (N, K) float32 for regression.

  def __len__(self) -> int:
    return len(self.targets)


@dataclasses.dataclass(frozen=True)
class Dataset:
  """Train and validation arrays; test behind `test()`, read for the report."""
  name: str
  train: Split
  validation: Split
  input_shape: tuple[int, ...]   # One example's stored shape, e.g. (H, W, C).
  num_classes: int               # Output width for classification tasks.
  input_convention: str          # A key of INPUT_CONVENTIONS.
  task: str                      # The default task, a key of tasks.TASKS.
  _read_test: Callable[[], Split] = dataclasses.field(repr=False)

  def test(self) -> Split:
    return self._read_test()

  @property
  def input_dim(self) -> int:
    return int(np.prod(self.input_shape))


class SklearnDigits(tfds.core.GeneratorBasedBuilder):
  """scikit-learn's bundled 8x8 handwritten digits (1797 images, 10 classes).

  Pixel values 0..16 are scaled to 0..255. The test split is a fixed,
  stratified 20% (seed 0), so every user gets the same test set.
  """
  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}

  def _info(self) -> tfds.core.DatasetInfo:
    # Built here rather than by `dataset_info_from_configs`, which looks for
    # metadata files beside this module.
    return tfds.core.DatasetInfo(
        builder=self,
        description='scikit-learn load_digits, 8x8 grey images, 10 classes.',
        features=tfds.features.FeaturesDict({
            'image': tfds.features.Image(shape=(8, 8, 1)),
            'label': tfds.features.ClassLabel(num_classes=10),
        }),
        supervised_keys=('image', 'label'),
        homepage='https://scikit-learn.org/stable/datasets/toy_dataset.html',
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Nothing to download: the data ships with scikit-learn.
    test_idx = _digits_test_indices()
    return {'train': self._generate_examples(test_idx, False),
            'test': self._generate_examples(test_idx, True)}

  def _generate_examples(self, test_idx, is_test):
    import PIL.Image  # tfds encodes PIL images without TensorFlow.
    from sklearn.datasets import load_digits
    digits = load_digits()
    in_test = np.zeros(len(digits.target), bool)
    in_test[test_idx] = True
    for i in np.flatnonzero(in_test == is_test):
      pixels = np.round(digits.images[i] * (255 / 16)).astype(np.uint8)
      yield int(i), {'image': PIL.Image.fromarray(pixels),
                     'label': int(digits.target[i])}


def _digits_test_indices(fraction: float = 0.2, seed: int = 0) -> np.ndarray:
  from sklearn.datasets import load_digits
  labels = load_digits().target
  rng = np.random.default_rng(seed)
  picked = []
  for c in np.unique(labels):
    members = np.flatnonzero(labels == c)
    picked.append(rng.permutation(members)[:round(fraction * len(members))])
  return np.sort(np.concatenate(picked))


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
  tfds_name: str
  input_shape: tuple[int, ...]
  num_classes: int
  train_size: int   # Examples in the TFDS train split (checks need no data).
  input_convention: str = 'pixels'
  task: str = 'classification'
  train_split: str = 'train'
  test_split: str = 'test'
  offline: bool = False  # Prepared from a package; never downloads.


DATASETS: dict[str, DatasetSpec] = {
    'digits': DatasetSpec('sklearn_digits', (8, 8, 1), 10, 1438, offline=True),
    'mnist': DatasetSpec('mnist', (28, 28, 1), 10, 60_000),
    'fashion_mnist': DatasetSpec('fashion_mnist', (28, 28, 1), 10, 60_000),
    'kmnist': DatasetSpec('kmnist', (28, 28, 1), 10, 60_000),
    'emnist_digits': DatasetSpec('emnist/digits', (28, 28, 1), 10, 240_000),
    'cifar10': DatasetSpec('cifar10', (32, 32, 3), 10, 50_000),
    'svhn': DatasetSpec('svhn_cropped', (32, 32, 3), 10, 73_257),
}


def get_spec(name: str) -> DatasetSpec:
  if name not in DATASETS:
    raise UsageError(f'unknown dataset {name!r}; known datasets: '
                     f'{", ".join(sorted(DATASETS))}.')
  return DATASETS[name]


def default_data_dir() -> str:
  return os.environ.get('TFDS_DATA_DIR',
                        os.path.expanduser('~/tensorflow_datasets'))


def _unreachable_hosts(builder, timeout: float) -> list[str]:
  """Hosts of the builder's download URLs that do not accept a connection.

  TFDS retries a failed download with backoff for minutes; resolving and
  connecting to each host first turns "offline" into an answer in seconds.
  """
  # No recorded URLs (manual or GCS-only datasets): TFDS's own mirror.
  hosts = set() if builder.url_infos else {('storage.googleapis.com', 443)}
  for url in (builder.url_infos or {}):
    parts = urllib.parse.urlsplit(url)
    if parts.hostname:
      hosts.add((parts.hostname,
                 parts.port or (443 if parts.scheme == 'https' else 80)))
  down = []
  for host, port in sorted(hosts):
    try:
      socket.create_connection((host, port), timeout=timeout).close()
    except OSError:
      down.append(host)
  return down


def _prepare(builder, name: str, spec: DatasetSpec, data_dir: str,
             timeout: float):
  if builder.is_prepared():
    return
  if not spec.offline:
    down = _unreachable_hosts(builder, timeout)
    if down:
      raise UsageError(
          f'dataset {name!r} ({spec.tfds_name}) is not prepared in '
          f'TFDS_DATA_DIR={data_dir} and cannot be downloaded ({", ".join(down)}'
          f' unreachable); prepare it where there is network with `tfds build '
          f'{spec.tfds_name} --file_format=array_record --data_dir=DIR`, then '
          f'copy DIR here and set TFDS_DATA_DIR=DIR.')
  print(f'Preparing dataset {name!r} in {data_dir} (first use only)...',
        flush=True)
  tfds.display_progress_bar(False)
  builder.download_and_prepare()


def _read_split(source) -> Split:
  # Record by record: decoding dominates the cost, and tfds.testing.mock_data
  # supports __getitem__ but not the batched __getitems__.
  records = [source[i] for i in range(len(source))]
  images = np.stack([np.asarray(r['image'], np.uint8) for r in records])
  labels = np.asarray([r['label'] for r in records], np.int32)
  return Split(images, labels)


def num_validation(n: int, val_fraction: float) -> int:
  """How many of n training examples `carve_validation` holds out."""
  return int(round(val_fraction * n))


def carve_validation(n: int, val_fraction: float, seed: int
                     ) -> tuple[np.ndarray, np.ndarray]:
  """(train_indices, validation_indices) of a TFDS train split of size n."""
  if not 0 < val_fraction < 1:
    raise UsageError(f'val_fraction must be in (0, 1), got {val_fraction}.')
  n_val = num_validation(n, val_fraction)
  if n_val < 1 or n_val >= n:
    raise UsageError(f'val_fraction={val_fraction} leaves {n_val} of {n} '
                     'training examples for validation; pick a fraction that '
                     'leaves both splits non-empty.')
  perm = np.random.default_rng(seed).permutation(n)
  return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def load_dataset(name: str, *, data_dir: str | None = None,
                 val_fraction: float = 0.15, split_seed: int = 0,
                 network_timeout: float = 3.0) -> Dataset:
  """Loads a registered dataset, preparing it first if needed.

  Raises `UsageError` in seconds when the dataset is unknown, or neither
  prepared in `data_dir` (default: $TFDS_DATA_DIR or ~/tensorflow_datasets)
  nor downloadable.
  """
  spec = get_spec(name)
  data_dir = data_dir or default_data_dir()
  builder = tfds.builder(spec.tfds_name, data_dir=data_dir,
                         file_format='array_record')
  _prepare(builder, name, spec, data_dir, network_timeout)
  full_train = _read_split(builder.as_data_source(split=spec.train_split))
  if full_train.inputs.shape[1:] != spec.input_shape:
    raise UsageError(f'dataset {name!r} has inputs of shape '
                     f'{full_train.inputs.shape[1:]}, expected '
                     f'{spec.input_shape}.')
  train_idx, val_idx = carve_validation(len(full_train), val_fraction,
                                        split_seed)
  take = lambda s, i: Split(s.inputs[i], s.targets[i])
  return Dataset(
      name=name,
      train=take(full_train, train_idx),
      validation=take(full_train, val_idx),
      input_shape=spec.input_shape,
      num_classes=spec.num_classes,
      input_convention=spec.input_convention,
      task=spec.task,
      _read_test=lambda: _read_split(
          builder.as_data_source(split=spec.test_split)),
  )


def in_memory(name: str, train: Split, test: Split, *, val_fraction: float,
              split_seed: int, input_convention: str, task: str,
              num_classes: int = 1) -> Dataset:
  """A dataset from arrays (generated data: the lab's functions and bits).

  Validation is carved from `train` exactly as for TFDS datasets; `test` is
  held behind `Dataset.test()` like any other test split.
  """
  if input_convention not in INPUT_CONVENTIONS:
    raise UsageError(f'unknown input convention {input_convention!r}; known: '
                     f'{", ".join(INPUT_CONVENTIONS)}.')
  train_idx, val_idx = carve_validation(len(train), val_fraction, split_seed)
  take = lambda s, i: Split(s.inputs[i], s.targets[i])
  return Dataset(name=name, train=take(train, train_idx),
                 validation=take(train, val_idx),
                 input_shape=tuple(train.inputs.shape[1:]),
                 num_classes=num_classes, input_convention=input_convention,
                 task=task, _read_test=lambda: test)
