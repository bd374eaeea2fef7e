"""Launchers give XLA one CPU device per core (`runtime.use_cpu_devices`)."""

import os
import subprocess
import sys

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
