import contextlib
import dataclasses
import fcntl
import io
import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The tests compile at LLVM -O1 (XLA_FLAGS, read when JAX first starts its
# backend, in this process and in every launcher the tests start): most of
# the suite's time is XLA:CPU compiling small programs, and -O1 halves it
# (a two-layer MLP's training program: 8.2 s at the default -O2, 3.2 s at
# -O1, the same numbers; BUILD_NOTES.md). Users' runs keep the default.
TEST_XLA_FLAGS = '--xla_backend_optimization_level=1'
# One CPU device, in this process and in the launchers the tests start,
# unless a test asks for more (`xla_flags`): a launcher's default (one device
# per core) would shard, and round, differently from the in-process runs it
# is compared with (tests/test_launch.py tests that default).
_flags = os.environ.get('XLA_FLAGS', '')
if 'xla_force_host_platform_device_count' not in _flags:
  _flags += ' --xla_force_host_platform_device_count=1'
os.environ['XLA_FLAGS'] = f'{_flags} {TEST_XLA_FLAGS}'.strip()


def xla_flags(devices: int) -> str:
  """XLA_FLAGS for a launcher with `devices` virtual CPU devices."""
  return f'--xla_force_host_platform_device_count={devices} {TEST_XLA_FLAGS}'


def shared_dir(tmp_path_factory, name: str) -> pathlib.Path:
  """A folder of this test run that every pytest-xdist worker shares."""
  root = tmp_path_factory.getbasetemp()
  if os.environ.get('PYTEST_XDIST_WORKER'):
    root = root.parent
  path = root / name
  path.mkdir(parents=True, exist_ok=True)
  return path


@contextlib.contextmanager
def locked(path: pathlib.Path):
  """One process of the test run at a time (xdist workers, SLURM tasks)."""
  with open(path, 'w') as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    yield


@pytest.fixture(scope='session', autouse=True)
def compilation_cache(tmp_path_factory):
  """The package's JAX settings (`runtime.setup`, as a launcher's main
  does), and one persistent compilation cache for the whole session,
  in-process and in the launchers it starts ($JAX_COMPILATION_CACHE_DIR):
  programs that several tests build alike compile once."""
  from deepvsshallow import runtime
  path = str(shared_dir(tmp_path_factory, 'jax_cache'))
  os.environ['JAX_COMPILATION_CACHE_DIR'] = path
  runtime.setup()
  return path


@pytest.fixture(scope='session')
def tfds_dir(tmp_path_factory):
  """A private TFDS_DATA_DIR: tests never touch the user's datasets (one
  process prepares a dataset at a time: `data` locks it)."""
  path = str(shared_dir(tmp_path_factory, 'tfds'))
  os.environ['TFDS_DATA_DIR'] = path
  return path


@pytest.fixture(scope='session')
def digits(tfds_dir):
  from deepvsshallow import data
  return data.load_dataset('digits', data_dir=tfds_dir)


class ReadTracker:
  """A config that records which fields the code reads (`to_dict` and `keys`,
  which copy or list every field, are not reads): a test then finds fields
  that nothing reads."""

  def __init__(self, config):
    object.__setattr__(self, '_config', config)
    object.__setattr__(self, 'read', set())

  def __getattr__(self, name):
    self.read.add(name)
    return getattr(self._config, name)

  def __getitem__(self, name):
    self.read.add(name)
    return self._config[name]

  def to_dict(self):
    return self._config.to_dict()

  def keys(self):
    return self._config.keys()


@dataclasses.dataclass
class StudyRun:
  """One study's :runlocal run, in process: where it wrote, what it
  returned and printed, and which config fields it read."""
  workdir: pathlib.Path
  summary: dict
  output: str
  reads: set


_RUNLOCAL: dict[str, StudyRun] = {}


@pytest.fixture(scope='session')
def lecture_dir(tmp_path_factory):
  """Where the test run's :runlocal study runs go, one folder per study: a
  lecture workdir whose studies are all finished once each ran."""
  return shared_dir(tmp_path_factory, 'lecture')


@pytest.fixture(scope='session')
def runlocal(lecture_dir, tfds_dir):
  """runlocal(name) -> StudyRun: the study's :runlocal config, trained once
  per test run (in whichever xdist worker asks first; the others wait for
  it and read what it left) into lecture_dir/<name>."""
  def get(name: str) -> StudyRun:
    if name not in _RUNLOCAL:
      workdir = lecture_dir / name
      seen = lecture_dir / f'.{name}.runlocal.json'   # Its output and reads.
      with locked(lecture_dir / f'.{name}.lock'):
        if not seen.exists():
          study = study_record(name)
          config = ReadTracker(study.get_config('runlocal'))
          out = io.StringIO()
          with contextlib.redirect_stdout(out):
            study.train_and_evaluate(config, str(workdir))
          seen.write_text(json.dumps({'output': out.getvalue(),
                                      'reads': sorted(config.read)}))
      record = json.loads(seen.read_text())
      _RUNLOCAL[name] = StudyRun(
          workdir, json.loads((workdir / 'results.json').read_text()),
          record['output'], set(record['reads']))
    return _RUNLOCAL[name]
  return get


def unread_fields(run: StudyRun, name: str) -> set:
  """Fields of the study's config that its :runlocal run never read."""
  return set(study_record(name).get_config('runlocal').keys()) - run.reads


def study_record(name: str):
  """The study's record, importing only its own package."""
  import importlib
  return importlib.import_module(f'deepvsshallow.studies.{name}').STUDY


@pytest.fixture
def x64():
  """float64 in JAX for the duration of a test (finite differences)."""
  import jax
  previous = jax.config.jax_enable_x64
  jax.config.update('jax_enable_x64', True)
  yield
  jax.config.update('jax_enable_x64', previous)


@contextlib.contextmanager
def mock_data(**kwargs):
  """`tfds.testing.mock_data` whose data sources also read in batches.

  The mock sets `__getitems__` on each data source instance as a partial
  that takes no `self`, so a batched read raises a TypeError (tfds 4.9.10),
  while `__getitem__` works; data.py reads in batches. Here the batched read
  serves each key from the mock's generator, as its `__getitem__` does.
  """
  from unittest import mock
  import tensorflow_datasets as tfds
  from tensorflow_datasets.testing import mocking

  def getitems(record_keys, generator, serialized=False):
    assert not serialized
    return [generator[key] for key in record_keys]

  with mock.patch.object(mocking, '_getitems', getitems), \
      tfds.testing.mock_data(**kwargs):
    yield


def refused(train_and_evaluate, config, workdir) -> str:
  """Runs a study that must refuse its config: a UsageError of one line,
  and no workdir left behind. Returns the message."""
  from deepvsshallow.errors import UsageError
  with pytest.raises(UsageError) as e:
    train_and_evaluate(config, str(workdir))
  message = str(e.value)
  assert '\n' not in message, message
  assert not os.path.exists(workdir)
  return message


def launch(study: str, *args, env=None, timeout: float = 600):
  """Runs the launcher experiments/<study>.py with `args` from the repository
  root, as a user would; returns the finished process (output captured)."""
  return subprocess.run(
      [sys.executable, os.path.join(ROOT, 'experiments', f'{study}.py'),
       *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
      env=dict(os.environ, **(env or {})))


@pytest.fixture(scope='session')
def lecture_runlocal(lecture_dir, runlocal, tfds_dir):
  """The lecture at :runlocal: every study's :runlocal run (`runlocal`,
  shared with each study's own tests), then the lecture's launcher on that
  workdir, which keeps them all and writes REPORT.md (once per test run)."""
  from deepvsshallow import studies
  for name in studies.names():
    runlocal(name)
  with locked(lecture_dir / '.lecture.lock'):
    if not (lecture_dir / 'REPORT.md').exists():
      proc = launch('lecture', '--config=:runlocal', f'--workdir={lecture_dir}',
                    env={'TFDS_DATA_DIR': tfds_dir})
      assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
  return lecture_dir


# A sweep small enough to run several times: one population (a 1x32 MLP on
# digits), 2 learning rates x 2 seeds, 3 epochs.
TINY_SWEEP = ('deep_vs_shallow',
              '--config=:digits,runlocal',
              '--config.depths=(1,)', '--config.budgets=()',
              '--config.linear_baseline=False', '--config.mimic=False')


def sweep_command(workdir, *flags):
  study, *config = TINY_SWEEP
  return [sys.executable, os.path.join(ROOT, 'experiments', f'{study}.py'),
          *config, f'--workdir={workdir}', *flags]


@pytest.fixture(scope='session')
def four_devices(tfds_dir, digits, tmp_path_factory):
  """TINY_SWEEP by one process with 4 virtual CPU devices: what a
  multi-process run over 4 devices must equal, bitwise."""
  workdir = tmp_path_factory.mktemp('four_devices') / 'run'
  proc = subprocess.run(
      sweep_command(workdir), cwd=ROOT, capture_output=True, text=True,
      timeout=300, env=dict(os.environ, XLA_FLAGS=xla_flags(4)))
  assert proc.returncode == 0, proc.stderr[-3000:]
  return workdir


def assert_same_sweep(ours, reference) -> None:
  """The same table and, bitwise, every member's saved parameters and
  metrics as `reference` (each a TINY_SWEEP workdir)."""
  import numpy as np
  load = lambda d: json.loads((d / 'results.json').read_text())
  assert load(ours)['architectures'] == load(reference)['architectures']
  with np.load(ours / 'populations' / '0000.npz') as a, np.load(
      reference / 'populations' / '0000.npz') as b:
    assert a.files == b.files
    for name in a.files:
      np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def tensorboard_logdir(logdir):
  """What TensorBoard itself reads from `logdir` (its event multiplexer,
  data provider and HParams backend, as `tensorboard --logdir` would):
  (experiment, runs). experiment: the HParams dashboard's columns,
  (hyperparameter names, metric tags), as TensorBoard computes them from
  every session; runs: {run: (its session's {name: value} or None,
  {tag: [(step, value), ...]})}."""
  from tensorboard import context
  from tensorboard.backend.event_processing import data_provider
  from tensorboard.backend.event_processing import plugin_event_multiplexer
  from tensorboard.plugins import base_plugin
  from tensorboard.plugins.hparams import backend_context, plugin_data_pb2
  from tensorboard.util import tensor_util
  mux = plugin_event_multiplexer.EventMultiplexer()
  mux.AddRunsFromDirectory(str(logdir))
  mux.Reload()
  board = backend_context.Context(base_plugin.TBContext(
      logdir=str(logdir), multiplexer=mux,
      data_provider=data_provider.MultiplexerDataProvider(mux, str(logdir))))
  ctx = context.RequestContext()
  metadata = board.hparams_metadata(ctx, '')
  experiment = board.experiment_from_metadata(
      ctx, '', True, metadata, board.hparams_from_data_provider(ctx, '', None))
  columns = ({h.name for h in experiment.hparam_infos},
             {m.name.tag for m in experiment.metric_infos})
  runs = {}
  for run, tags in mux.Runs().items():
    session = None
    start = metadata.get(run, {}).get('_hparams_/session_start_info')
    if start is not None:
      info = plugin_data_pb2.HParamsPluginData.FromString(start)
      session = {k: getattr(v, v.WhichOneof('kind'))
                 for k, v in info.session_start_info.hparams.items()}
    scalars = {tag: [(e.step, tensor_util.make_ndarray(e.tensor_proto).item())
                     for e in mux.Tensors(run, tag)]
               for tag in tags['tensors'] if not tag.startswith('_hparams_')
               and not tag.endswith('text_summary')}
    runs[run] = (session, scalars)
  return columns, runs
