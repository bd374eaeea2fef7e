"""launch/cpu.sh gives XLA one CPU device per core."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_cpu_launcher_makes_one_device_per_core():
  proc = subprocess.run(
      [os.path.join(ROOT, 'launch', 'cpu.sh'), '-c',
       'import jax; print(jax.local_device_count(), jax.default_backend())'],
      capture_output=True, text=True, timeout=120, cwd=ROOT,
      env={**{k: v for k, v in os.environ.items() if k != 'XLA_FLAGS'},
           'PYTHON': sys.executable})
  assert proc.returncode == 0, proc.stderr
  assert proc.stdout.split() == [str(len(os.sched_getaffinity(0))), "cpu"]


def test_cpu_launcher_without_arguments_is_a_usage_error():
  proc = subprocess.run([os.path.join(ROOT, 'launch', 'cpu.sh')],
                        capture_output=True, text=True, cwd=ROOT)
  assert proc.returncode == 2 and proc.stderr.startswith('usage:')
