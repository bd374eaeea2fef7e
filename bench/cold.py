"""A command run cold: in a new process, with an empty JAX compilation cache
(and, if asked, an empty TFDS_DATA_DIR), timed as its process wall clock."""

import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cold(command: list[str], what: str, *, fresh_data: bool = False
             ) -> float:
  """Seconds `command` took from the repository root; exits with its stderr
  if it fails (`what` names it)."""
  return run_cold_timed(command, what, fresh_data=fresh_data)[0]


def run_cold_timed(command: list[str], what: str, *, fresh_data: bool = False
                   ) -> tuple[float, float]:
  """`run_cold`'s wall seconds, and the CPU seconds (user + system, every
  thread) the process and its children spent. The fresh cache and data
  folder are removed afterwards."""
  with tempfile.TemporaryDirectory(prefix='bench_cold_') as fresh:
    env = dict(os.environ,
               JAX_COMPILATION_CACHE_DIR=os.path.join(fresh, 'jax'))
    if fresh_data:
      env['TFDS_DATA_DIR'] = os.path.join(fresh, 'tfds')
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True,
                          text=True)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
  if proc.returncode:
    sys.exit(f'{what} failed (exit {proc.returncode}):\n'
             f'{proc.stderr[-3000:]}')
  cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
  return seconds, cpu
