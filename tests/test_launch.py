"""Launchers give XLA one CPU device per core (`runtime.use_cpu_devices`) and
deterministic GPU ops where a GPU can run."""

import os
import subprocess
import sys

import pytest

from conftest import ROOT, launch

COUNT = ('from deepvsshallow import runtime; n = runtime.use_cpu_devices({}); '
         'import jax; print(n, jax.local_device_count())')


def devices(arg='', xla_flags=''):
  env = {k: v for k, v in os.environ.items() if k != 'XLA_FLAGS'}
  if xla_flags:
    env['XLA_FLAGS'] = xla_flags
  proc = subprocess.run([sys.executable, '-c', COUNT.format(arg)],
                        capture_output=True, text=True, timeout=120, cwd=ROOT,
                        env=env)
  assert proc.returncode == 0, proc.stderr
  return [int(v) for v in proc.stdout.split()]


def test_one_cpu_device_per_core_by_default():
  cores = len(os.sched_getaffinity(0))
  assert devices() == [cores, cores]


def test_an_explicit_count_and_xla_flags_win():
  assert devices('3') == [3, 3]
  # A count in XLA_FLAGS is the user's: left alone (0 returned).
  assert devices('3', '--xla_force_host_platform_device_count=5') == [0, 5]


def test_a_bad_device_count_is_a_usage_error(tmp_path):
  proc = launch('optimism', '--cpu_devices=0',
                f'--workdir={tmp_path / "never"}')
  assert proc.returncode == 2, proc.stderr
  assert proc.stderr.count('\n') == 1 and '--cpu_devices=0' in proc.stderr
  assert not (tmp_path / 'never').exists()


# A launcher's main with a stand-in for the study (a GPU plugin faked or
# not): whether JAX's backend had started when the flags were set, and the
# XLA_FLAGS it leaves for the backend.
SHOW_FLAGS = """
import os, sys
from jax._src import xla_bridge
from deepvsshallow import cli, runtime
runtime.gpu_installed = lambda: {gpu}
use = runtime.use_deterministic_gpu_ops
def spy():
  print('started' if xla_bridge.backends_are_initialized() else 'not-started')
  use()
runtime.use_deterministic_gpu_ops = spy
cli.launch('optimism', 'deepvsshallow/studies/optimism/config.py',
           lambda config, workdir, execution: print(os.environ['XLA_FLAGS']),
           argv=[sys.argv[0], '--config=:runlocal', '--workdir=unused'])
"""


def launcher_xla_flags(xla_flags: str, gpu: bool):
  env = {k: v for k, v in os.environ.items() if k != 'XLA_FLAGS'}
  env['XLA_FLAGS'] = xla_flags
  proc = subprocess.run([sys.executable, '-c', SHOW_FLAGS.format(gpu=gpu)],
                        capture_output=True, text=True, timeout=120, cwd=ROOT,
                        env=env)
  assert proc.returncode == 0, proc.stderr
  return proc.stdout.split()


def test_launchers_ask_for_deterministic_gpu_ops_unless_told_otherwise():
  """One launcher process with a GPU plugin faked: the flag is set before
  the backend starts, the user's other flags kept; the rule itself (the
  user's setting either way wins; nothing where no GPU can run, so CPU runs
  share the compilation cache with in-process ones) without a process."""
  from deepvsshallow import runtime
  assert launcher_xla_flags('--xla_cpu_enable_fast_math=false', True) == [
      'not-started', '--xla_cpu_enable_fast_math=false',
      '--xla_gpu_deterministic_ops=true']
  for given in ('--xla_gpu_deterministic_ops=false',
                '--xla_gpu_deterministic_ops=0 --xla_cpu_enable_fast_math=false',
                '--xla_gpu_deterministic_ops=true'):
    assert runtime.deterministic_gpu_flags(given) == given
  assert runtime.deterministic_gpu_flags('') == (
      '--xla_gpu_deterministic_ops=true')
  before = os.environ.get('XLA_FLAGS')
  try:
    runtime.use_deterministic_gpu_ops(gpu=False)
    assert os.environ.get('XLA_FLAGS') == before
  finally:
    if before is not None:
      os.environ['XLA_FLAGS'] = before


@pytest.mark.parametrize('installed, platforms, gpu', [
    ({'jax': '0.10.2', 'jaxlib': '0.10.2'}, '', False),
    ({'jax': '0.10.2', 'jax-cuda12-plugin': '0.10.2'}, '', True),
    ({'jax': '0.10.2', 'jax_cuda13_pjrt': '0.10.2'}, '', True),
    ({'jax-rocm7-plugin': '0.10.2'}, '', True),
    ({'jaxlib': '0.4.30+cuda12.cudnn91'}, '', True),
    ({'jax-cuda12-plugin': '0.10.2'}, 'cpu', False),
    ({'jax-cuda12-plugin': '0.10.2'}, 'cuda,cpu', True),
    ({'jax-cuda12-plugin': '0.10.2'}, 'tpu', False),
])
def test_a_gpu_is_found_from_the_installed_plugins(monkeypatch, installed,
                                                   platforms, gpu):
  """The distributions are faked: a CUDA or ROCm plugin (or a CUDA jaxlib)
  makes a GPU possible unless $JAX_PLATFORMS rules it out."""
  import importlib.metadata
  import types
  from deepvsshallow import runtime
  fake = [types.SimpleNamespace(metadata={'Name': n}, version=v)
          for n, v in installed.items()]
  monkeypatch.setattr(importlib.metadata, 'distributions', lambda: fake)
  monkeypatch.setenv('JAX_PLATFORMS', platforms)
  assert runtime.gpu_installed() == gpu


def test_results_say_whether_gpu_ops_were_deterministic():
  """The backend is faked: CPU and TPU are deterministic whatever the
  flags; a GPU only with the flag on, as the last setting says."""
  from deepvsshallow import report, runtime
  assert runtime.deterministic_ops('cpu', '')
  assert runtime.deterministic_ops('tpu', '--xla_gpu_deterministic_ops=false')
  assert not runtime.deterministic_ops('gpu', '')
  assert runtime.deterministic_ops('gpu', '--xla_gpu_deterministic_ops')
  assert not runtime.deterministic_ops(
      'gpu', '--xla_gpu_deterministic_ops=true '
      '--xla_gpu_deterministic_ops=false')
  assert runtime.deterministic_gpu_flags('--xla_gpu_deterministic_ops') == (
      '--xla_gpu_deterministic_ops')

  def footer(backend, deterministic):
    return report.run_footer({
        'runtime_s': 10.0, 'compile': {'seconds': 2.0, 'count': 3},
        'platform': {'devices': 1, 'backend': backend, 'device_kind': 'H200',
                     'jax': '0.10.2', 'matmul_precision': 'highest',
                     'deterministic_ops': deterministic}})
  assert footer('gpu', True).endswith('highest, deterministic GPU ops.')
  assert 'GPU ops not deterministic' in footer('gpu', False)
  assert 'GPU determinism not recorded' in footer('gpu', None)
  assert footer('cpu', True).endswith('matmul precision highest.')


def test_results_say_what_float32_matmuls_computed_in(monkeypatch):
  """What a run records for its float32 matmuls is what its backend
  computed: 1 + 2^-20 times 1 keeps its 2^-20 in float32 and in 3 or 6
  bfloat16 passes (1 and 2^-20 are both bfloat16 numbers), and loses it in
  TensorFloat-32's 10-bit and one bfloat16 pass's 7-bit mantissa (on this
  CPU: float32 at every setting; the same check holds a GPU or TPU to its
  claim). The accelerators' entries are jax.lax.Precision's documented
  meanings, the GPU's by its compute capability; a run's footer names the
  one it ran with."""
  import types
  import jax
  import jax.numpy as jnp
  import numpy as np
  from deepvsshallow import report, runtime, train
  a = np.full((8, 8), 1 + 2.0**-20, np.float32)
  eye = np.eye(8, dtype=np.float32)
  lossy = ('TensorFloat-32', 'bfloat16 x1')
  for precision in train.MATMUL_PRECISIONS:
    with jax.default_matmul_precision(precision):
      product = np.asarray(jax.jit(jnp.matmul)(a, eye))
    claim = runtime.float32_matmuls(jax.default_backend(), precision,
                                    jax.devices()[0])
    if 'not determined' not in claim:
      assert np.all(product == np.float32(1 + 2.0**-20)) == (
          claim not in lossy), (precision, claim)
    if jax.default_backend() == 'cpu':
      assert claim == 'float32'
  h200, v100 = (types.SimpleNamespace(compute_capability=c)
                for c in ('9.0', '7.0'))
  assert runtime.float32_matmuls('gpu', 'default', h200) == 'TensorFloat-32'
  assert runtime.float32_matmuls('gpu', 'high', h200) == 'TensorFloat-32'
  assert runtime.float32_matmuls('gpu', 'highest', h200) == 'float32'
  assert runtime.float32_matmuls('gpu', 'default', v100) == 'float32'
  assert 'not determined' in runtime.float32_matmuls('gpu', 'default',
                                                     object())
  mi300 = types.SimpleNamespace(
      compute_capability='gfx942',
      client=types.SimpleNamespace(platform_version='rocm 6.4'))
  assert 'not determined on ROCm' in runtime.float32_matmuls(
      'gpu', 'default', mi300)
  assert [runtime.float32_matmuls('tpu', p) for p in train.MATMUL_PRECISIONS
          ] == ['bfloat16 x1', 'bfloat16 x3', 'bfloat16 x6 (about float32)']
  monkeypatch.setenv('NVIDIA_TF32_OVERRIDE', '0')
  assert runtime.float32_matmuls('gpu', 'default', h200) == (
      'float32 (NVIDIA_TF32_OVERRIDE=0)')
  line = report.run_footer({
      'runtime_s': 10.0, 'compile': {'seconds': 2.0, 'count': 3},
      'platform': {'devices': 1, 'backend': 'gpu', 'device_kind': 'H200',
                   'jax': '0.10.2', 'matmul_precision': 'default',
                   'float32_matmuls': 'TensorFloat-32',
                   'deterministic_ops': True}})
  assert line.endswith('matmul precision default (float32 matmuls in '
                       'TensorFloat-32), deterministic GPU ops.')
