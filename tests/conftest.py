import json
import os
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
os.environ['XLA_FLAGS'] = f'{os.environ.get("XLA_FLAGS", "")} {TEST_XLA_FLAGS}'.strip()


def xla_flags(devices: int) -> str:
  """XLA_FLAGS for a launcher with `devices` virtual CPU devices."""
  return f'--xla_force_host_platform_device_count={devices} {TEST_XLA_FLAGS}'


@pytest.fixture(scope='session', autouse=True)
def compilation_cache(tmp_path_factory):
  """One persistent compilation cache for the whole session, in-process and
  in the launchers it starts ($JAX_COMPILATION_CACHE_DIR): programs that
  several tests build alike compile once."""
  import jax
  path = str(tmp_path_factory.mktemp('jax_cache'))
  os.environ['JAX_COMPILATION_CACHE_DIR'] = path
  jax.config.update('jax_compilation_cache_dir', path)
  jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)
  jax.config.update('jax_persistent_cache_min_entry_size_bytes', 0)
  return path


@pytest.fixture(scope='session')
def tfds_dir(tmp_path_factory):
  """A private TFDS_DATA_DIR: tests never touch the user's datasets."""
  path = str(tmp_path_factory.mktemp('tfds'))
  os.environ['TFDS_DATA_DIR'] = path
  return path


@pytest.fixture(scope='session')
def digits(tfds_dir):
  from deepvsshallow import data
  return data.load_dataset('digits', data_dir=tfds_dir)


@pytest.fixture
def read_tracker():
  """Wraps a config so that a test can see which fields the code read."""
  from deepvsshallow import config
  return config.ReadTracker


@pytest.fixture
def x64():
  """float64 in JAX for the duration of a test (finite differences)."""
  import jax
  previous = jax.config.jax_enable_x64
  jax.config.update('jax_enable_x64', True)
  yield
  jax.config.update('jax_enable_x64', previous)


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
def lecture_runlocal(tfds_dir, tmp_path_factory):
  """The lecture at :runlocal, once per test session: every study's smoke
  config through its own launcher (experiments/<study>.py, one process
  each). Tests of each launcher read its outputs in <workdir>/<study>/ and
  its console output in <workdir>/logs/<study>.txt."""
  workdir = tmp_path_factory.mktemp('lecture') / 'run'
  proc = launch('lecture', '--config=experiments/configs/lecture.py:runlocal',
                f'--workdir={workdir}', env={'TFDS_DATA_DIR': tfds_dir})
  assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
  return workdir


# A sweep small enough to run several times: one population (a 1x32 MLP on
# digits), 2 learning rates x 2 seeds, 3 epochs.
TINY_SWEEP = ('deep_vs_shallow',
              f'--config={ROOT}/experiments/configs/deep_vs_shallow.py'
              ':digits,runlocal',
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


def study_run(lecture_dir, study: str):
  """(workdir, console output) of one study in the lecture's runlocal run."""
  return (lecture_dir / study,
          (lecture_dir / 'logs' / f'{study}.txt').read_text())


def config_reads(lecture_dir, study: str) -> set:
  """The config fields the study's launcher read in the lecture's run."""
  return set(json.loads((lecture_dir / 'logs' / f'{study}.reads.json')
                        .read_text()))
