"""The SLURM submitter against a real one-node SLURM on localhost.

launch/slurm-localhost.sh starts slurmctld, slurmd and munge (installing the
Debian packages if needed), which needs root. Where it cannot start, the test
is skipped with the reason (pytest prints skip reasons: -rs in pyproject)."""

import json
import os
import subprocess
import sys
import time

import pytest

from conftest import ROOT, TINY_SWEEP, assert_same_sweep, xla_flags

SUBMIT = os.path.join(ROOT, 'launch', 'slurm.sh')
CLUSTER = os.path.join(ROOT, 'launch', 'slurm-localhost.sh')


@pytest.fixture(scope='module')
def slurm():
  if os.geteuid() != 0:
    pytest.skip('a one-node SLURM needs root (launch/slurm-localhost.sh '
                'installs packages and writes /etc/slurm); not root here')
  proc = subprocess.run([CLUSTER, 'start'], capture_output=True, text=True,
                        timeout=300)
  if proc.returncode != 0:
    pytest.skip('SLURM could not start on this machine: '
                + (proc.stderr.strip().splitlines() or ['no message'])[-1])
  yield
  subprocess.run([CLUSTER, 'stop'], capture_output=True, timeout=120)


def _wait_for(jobs, timeout=300):
  deadline = time.time() + timeout
  while time.time() < deadline:
    queue = subprocess.run(['squeue', '-h', '-o', '%i'], capture_output=True,
                           text=True).stdout.split()
    if not any(q.split('_')[0] in jobs for q in queue):
      return
    time.sleep(0.5)
  raise TimeoutError(f'jobs {jobs} still queued after {timeout}s')


@pytest.mark.slow
def test_an_array_of_4_tasks_then_the_report_equals_one_process(
    slurm, runlocal, tmp_path, tfds_dir):
  workdir = tmp_path / 'run'
  config = ':runlocal'
  proc = subprocess.run(
      [SUBMIT, f'--python={sys.executable}', '--array-size=4',
       os.path.join(ROOT, 'experiments', 'modularity.py'),
       f'--config={config}', f'--workdir={workdir}'],
      cwd=tmp_path, capture_output=True, text=True, timeout=60,
      env=dict(os.environ, TFDS_DATA_DIR=tfds_dir))
  assert proc.returncode == 0, proc.stderr
  words = proc.stdout.split()
  array_job, report_job = words[1], words[6].rstrip(';')
  _wait_for({array_job, report_job})
  logs = tmp_path / 'slurm-logs'
  tasks = [(logs / f'modularity-{array_job}_{i}.out').read_text()
           for i in range(4)]
  report = (logs / f'modularity-report-{report_job}.out').read_text()
  # Every population was trained by exactly one task, and the report job
  # loaded all 11 (flat, modular, 4 x ovr, weighted flat, 4 x weighted ovr).
  trained = [l.split(' (')[0] for t in tasks for l in t.splitlines()
             if l.startswith('  ') and l.rstrip().endswith('s)')]
  assert len(trained) == len(set(trained)) == 11, tasks
  assert report.count('resumed from disk') == 11, report
  ours = json.loads((workdir / 'results.json').read_text())['rows']
  single = json.loads((runlocal('modularity').workdir / 'results.json')
                      .read_text())['rows']
  assert ours == single


@pytest.mark.slow
def test_one_job_of_2_processes_through_srun_equals_one_process(
    slurm, four_devices, tmp_path):
  """srun starts 2 processes of 2 virtual devices; jax.distributed finds
  its peers from SLURM's variables; the population spans 4 devices."""
  workdir = tmp_path / 'run'
  study, *config = TINY_SWEEP
  proc = subprocess.run(
      [SUBMIT, f'--python={sys.executable}', '--processes=2',
       '--cpus-per-task=1', os.path.join(ROOT, 'experiments', f'{study}.py'),
       *config, f'--workdir={workdir}'],
      cwd=tmp_path, capture_output=True, text=True, timeout=60,
      env=dict(os.environ,
               XLA_FLAGS=xla_flags(2)))
  assert proc.returncode == 0, proc.stderr
  job = proc.stdout.split()[1]
  _wait_for({job})
  log = (tmp_path / 'slurm-logs' / f'{study}-{job}.out').read_text()
  assert 'on 4 cpu device(s) of 2 processes' in log, log[-3000:]
  assert_same_sweep(workdir, four_devices)


def test_the_submitter_without_sbatch_is_one_line_and_exit_2(tmp_path):
  proc = subprocess.run(
      [SUBMIT, os.path.join(ROOT, 'experiments', 'modularity.py'),
       f'--workdir={tmp_path}'], capture_output=True, text=True,
      env=dict(os.environ, SBATCH='/nonexistent/sbatch'), cwd=tmp_path)
  assert proc.returncode == 2
  lines = proc.stderr.strip().splitlines()
  assert len(lines) == 1 and '/nonexistent/sbatch not found' in lines[0]
  assert not (tmp_path / 'slurm-logs').exists()


def test_the_submitter_prints_its_commands_and_defaults(tmp_path):
  proc = subprocess.run(
      [SUBMIT, '--dry-run', '--array-size=3', '--gpus-per-task=1',
       os.path.join(ROOT, 'experiments', 'modularity.py'),
       f'--workdir={tmp_path}'], capture_output=True, text=True, cwd=tmp_path)
  assert proc.returncode == 0, proc.stderr
  array, report = proc.stdout.strip().splitlines()
  assert '--array=0-2' in array and '--gpus-per-task=1' in array
  assert '--dependency=afterok:ARRAY_JOB' in report
  help_text = subprocess.run([SUBMIT, '--help'], capture_output=True,
                             text=True).stdout
  for default in ('--array-size=N       array tasks [4]',
                  '--time=T             time limit per task, sbatch syntax '
                  '[01:00:00]'):
    assert default in help_text
