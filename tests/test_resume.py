"""Surviving kills and sharing a workdir: resume, array tasks, atomic files.

The uninterrupted reference is the session's :runlocal run of the study
(`runlocal`)."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import ROOT, launch, sweep_command, tensorboard_logdir
from deepvsshallow import report, store

STUDY = 'modularity'   # 11 populations in one sweep: flat, modular, 4 x ovr,
# and the class-weighted flat and 4 x ovr.
POPULATIONS = 11
CONFIG = '--config=:runlocal'


def _popen(workdir, *flags):
  return subprocess.Popen(
      [sys.executable, os.path.join(ROOT, 'experiments', f'{STUDY}.py'),
       CONFIG, f'--workdir={workdir}', *flags], cwd=ROOT,
      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _rows(workdir):
  return json.loads((workdir / 'results.json').read_text())['rows']


def _records(workdir):
  return [json.loads(l) for l in
          (workdir / 'trials.jsonl').read_text().splitlines()]


def _saved(workdir):
  d = workdir / 'populations'
  return sorted(n for n in os.listdir(d) if n.endswith('.npz')) if (
      d.exists()) else []


@pytest.mark.slow
@pytest.mark.parametrize('kill_after', [3])
def test_a_kill_at_any_moment_then_a_resume_equals_an_uninterrupted_run(
    runlocal, tmp_path, kill_after):
  """SIGKILL once `kill_after` populations are saved (0: while compiling or
  training the first), then the same command again."""
  workdir = tmp_path / 'run'
  proc = _popen(workdir)
  deadline = time.time() + 300
  while len(_saved(workdir)) < kill_after and proc.poll() is None:
    assert time.time() < deadline
    time.sleep(0.05)
  if kill_after == 0:
    time.sleep(np.random.default_rng(0).uniform(2, 4))
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  before = len(_saved(workdir))
  if before < POPULATIONS:
    assert not (workdir / 'results.json').exists()
  done = launch(STUDY, CONFIG, f'--workdir={workdir}')
  assert done.returncode == 0, done.stderr[-3000:]
  # What was saved is loaded, the rest trains: nothing twice.
  assert done.stdout.count('resumed from disk') == before
  assert len(_saved(workdir)) == POPULATIONS
  assert _rows(workdir) == _rows(runlocal(STUDY).workdir)
  records = _records(workdir)
  reference = _records(runlocal(STUDY).workdir)
  assert sorted(r['trial'] for r in records) == sorted(
      r['trial'] for r in reference)   # None lost, none repeated.


@pytest.mark.slow
def test_array_tasks_share_a_workdir_and_train_each_population_once(
    runlocal, tmp_path):
  workdir = tmp_path / 'run'
  tasks = [_popen(workdir, f'--task_index={i}', '--num_tasks=2')
           for i in range(2)]
  logs = [t.communicate(timeout=300)[0] for t in tasks]
  assert [t.returncode for t in tasks] == [0, 0], logs
  trained = [{l.split(' (')[0].strip() for l in log.splitlines()
              if l.startswith('  ') and l.rstrip().endswith('s)')}
             for log in logs]
  assert trained[0] and trained[1] and not trained[0] & trained[1]
  final = launch(STUDY, CONFIG, f'--workdir={workdir}')
  assert final.returncode == 0, final.stderr[-3000:]
  assert final.stdout.count('resumed from disk') == POPULATIONS   # Nothing retrained.
  assert _rows(workdir) == _rows(runlocal(STUDY).workdir)
  assert sorted(r['trial'] for r in _records(workdir)) == sorted(
      r['trial'] for r in _records(runlocal(STUDY).workdir))


@pytest.mark.slow
def test_a_kill_mid_population_resumes_from_its_last_checkpoint(tmp_path,
                                                                digits):
  """checkpoint_every=2 over 30 epochs: a SIGKILL after a checkpoint loses at
  most 2 epochs, and the resumed population ends bitwise equal to one trained
  without a break (or a checkpoint)."""
  resumed, whole = tmp_path / 'resumed', tmp_path / 'whole'
  proc = subprocess.Popen(
      sweep_command(resumed, '--config.num_epochs=30',
                    '--config.checkpoint_every=2'),
      cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  reference = subprocess.Popen(
      sweep_command(whole, '--config.num_epochs=30'), cwd=ROOT,
      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
  checkpoints = resumed / 'checkpoints'
  steps = lambda: [int(s) for d in checkpoints.glob('0000.*')
                   for s in os.listdir(d) if s.isdigit()]
  deadline = time.time() + 300
  while max(steps(), default=0) < 6:
    assert proc.poll() is None and time.time() < deadline
    time.sleep(0.02)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  last = max(steps())
  assert last < 30 and not _saved(resumed)   # Killed mid-population.
  again = subprocess.run(
      sweep_command(resumed, '--config.num_epochs=30',
                    '--config.checkpoint_every=2'),
      cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert again.returncode == 0, again.stderr[-3000:]
  assert f'resumed at epoch {last} from its checkpoint' in again.stdout
  assert not checkpoints.exists()   # Deleted once the results are saved.
  assert reference.wait(timeout=300) == 0, reference.stderr.read()[-3000:]
  for key in ('0000',):
    with np.load(resumed / 'populations' / f'{key}.npz') as a, np.load(
        whole / 'populations' / f'{key}.npz') as b:
      assert a.files == b.files
      for name in set(a.files) - {'__records__'}:   # (Their configs differ.)
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_a_kill_between_write_and_rename_leaves_the_old_file(tmp_path,
                                                             monkeypatch):
  path = tmp_path / 'results.json'
  report.write_json(str(path), {'old': 1})
  def killed(*_):
    raise KeyboardInterrupt   # Stands for the process dying here.
  monkeypatch.setattr(report.os, 'replace', killed)
  with pytest.raises(KeyboardInterrupt):
    report.write_json(str(path), {'new': 2})
  assert json.loads(path.read_text()) == {'old': 1}
  assert os.listdir(tmp_path) == ['results.json']   # No temporary left.


def test_stray_temporaries_are_ignored_and_a_corrupt_file_is_named(tmp_path):
  s = store.Store(str(tmp_path))
  s.save('0000', 'fp', {'best_val': np.zeros(2),
                        '__records__': np.asarray(['{"trial": "a"}'])})
  (tmp_path / 'populations' / '.tmp-x1y2').write_bytes(b'half a file')
  s.write_trials(['0000'])
  assert (tmp_path / 'trials.jsonl').read_text() == '{"trial": "a"}\n'
  assert s.load('0000', 'other fingerprint') is None
  (tmp_path / 'populations' / '0001.npz').write_bytes(b'PK\x03\x04 torn')
  with pytest.raises(store.UsageError) as e:
    s.load('0001', 'fp')
  assert '0001.npz is corrupt; delete it and run again' in str(e.value)


@pytest.mark.parametrize('flags,message', [
    (('--task_index=2', '--num_tasks=2'), '--task_index=2 is outside [0, '
     '--num_tasks=2)'),
    (('--task_index=0',), '--task_index and --num_tasks go together'),
])
def test_a_bad_task_is_one_line_and_exit_2(tmp_path, flags, message):
  proc = launch(STUDY, CONFIG, f'--workdir={tmp_path / "never"}', *flags,
                timeout=120)
  assert proc.returncode == 2, proc.stderr[-2000:]
  lines = [l for l in proc.stderr.splitlines() if l.strip()]
  assert len(lines) == 1 and message in lines[0]
  assert not (tmp_path / 'never').exists()


def test_another_studys_workdir_and_a_changed_config_are_refused(tmp_path):
  s = store.Store(str(tmp_path))
  assert s.claim('modularity', {'a': 1, 'b': {'c': 2}}, False) is False
  assert s.claim('modularity', {'a': 1, 'b': {'c': 2}}, False) is True
  with pytest.raises(store.UsageError, match="holds a 'modularity' run, "
                     "not 'separation'"):
    s.claim('separation', {'a': 1, 'b': {'c': 2}}, False)
  with pytest.raises(store.UsageError, match=r'another config \(b.c differ\)'):
    s.claim('modularity', {'a': 1, 'b': {'c': 3}}, False)
  assert s.claim('modularity', {'a': 1, 'b': {'c': 3}}, True) is True
  assert json.loads((tmp_path / 'config.json').read_text())['config'] == {
      'a': 1, 'b': {'c': 3}}


@pytest.mark.slow
def test_tensorboard_holds_every_members_epochs(runlocal):
  workdir = runlocal(STUDY).workdir
  saved = np.load(workdir / 'populations' / '0000.npz')
  records = [json.loads(r) for r in saved['__records__']]
  _, runs = tensorboard_logdir(workdir / 'tensorboard')
  for m, record in enumerate(records):
    _, scalars = runs[
        f'0000/lr={record["learning_rate"]:g},seed={record["seed"]}']
    loss = [v for _, v in scalars['train/loss']]
    np.testing.assert_allclose(loss, saved['history/train_loss'][:, m],
                               rtol=1e-6)
    assert [s for s, _ in scalars['validation/error']] == list(
        range(1, len(loss) + 1))
