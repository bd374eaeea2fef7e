"""The main job, end to end, and every bad input the launcher must refuse."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from deepvsshallow import data, deep_vs_shallow, params, selection, train
from experiments.configs import deep_vs_shallow as dvs_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCHER = os.path.join(ROOT, 'experiments', 'deep_vs_shallow.py')


def _launch(*args, env=None, timeout=600):
  return subprocess.run([sys.executable, LAUNCHER, *args], cwd=ROOT,
                        capture_output=True, text=True, timeout=timeout,
                        env=dict(os.environ, **(env or {})))


def _tiny_config(**overrides):
  c = dvs_config.get_config('runlocal')
  c.depths, c.budgets, c.num_epochs = (1, 2), (), 1
  c.update(overrides)
  return c


def test_grid_has_deep_matched_and_budget_nets():
  c = dvs_config.get_config('')
  grid = deep_vs_shallow.build_grid(c, 64, 10)
  by_name = {a.name: a for a in grid}
  for depth in c.depths:
    assert f'{depth}x{c.width}' in by_name
  for a in grid:
    assert a.param_count == params.mlp_param_count(64, a.hidden_widths, 10)
    for role in a.roles:
      if role.startswith('matched:'):
        deep = by_name[role.split(':')[1]]
        assert a.depth == 1 and abs(a.param_count - deep.param_count) <= 75
      if role.startswith('budget:'):
        assert a.param_count <= int(role.split(':')[1])
  assert len(grid) == len({a.hidden_widths for a in grid})  # Merged.


def test_pick_by_validation_and_its_optimism():
  lrs = [1, 1, 2, 2, 3, 3]
  val = [0.10, 0.12, 0.05, 0.07, 0.01, np.nan]
  pick = selection.pick_by_validation(lrs, val, [0, 0, 0, 0, 0, 1])
  # lr=3 diverged for one seed, so it is not eligible; lr=2 wins.
  assert pick.candidate == 2 and pick.members == (2, 3)
  assert pick.num_candidates == 3 and pick.num_diverged == 1
  np.testing.assert_allclose(pick.val_errors.mean(), 0.06)
  assert selection.pick_by_validation([1, 1], [0.1, 0.2], [1, 1]) is None
  assert selection.mean_std([1.0, 3.0]) == (2.0, pytest.approx(np.sqrt(2)))


def test_test_split_is_read_once_after_all_training(tmp_path, monkeypatch,
                                                    digits):
  events = []
  monkeypatch.setattr(data, 'load_dataset', lambda *a, **k: data.Dataset(
      name='digits', train=digits.train, validation=digits.validation,
      image_shape=digits.image_shape, num_classes=10,
      _read_test=lambda: events.append('test') or digits.test()))
  real = train.train_population
  monkeypatch.setattr(train, 'train_population',
                      lambda *a, **k: events.append('train') or real(*a, **k))
  summary = deep_vs_shallow.train_and_evaluate(_tiny_config(),
                                               str(tmp_path / 'w'))
  assert events == ['train'] * len(summary['architectures']) + ['test']


def test_diverged_candidates_are_recorded_and_the_sweep_goes_on(tmp_path):
  c = _tiny_config(optimizer='sgd', schedule='constant',
                   learning_rates=(0.1, 1e30), num_epochs=2)
  summary = deep_vs_shallow.train_and_evaluate(c, str(tmp_path))
  with open(tmp_path / 'trials.jsonl') as f:
    trials = [json.loads(l) for l in f]
  assert {t['status'] for t in trials if t["learning_rate"] == 1e30} == {
      'diverged'}
  assert {t['status'] for t in trials if t['learning_rate'] == 0.1} == {'done'}
  for row in summary['architectures']:
    assert row['status'] == 'done' and row['learning_rate'] == 0.1
    assert row['num_diverged'] == c.num_seeds


def test_weights_only_matching_runs_and_reports_mismatch(tmp_path):
  """Seide's convention: match weights only; models still have biases."""
  c = _tiny_config(count_biases=False, depths=(1, 3))
  summary = deep_vs_shallow.train_and_evaluate(c, str(tmp_path))
  rows = {r['architecture']: r for r in summary['architectures']}
  deep = rows['3x32']
  shallow = next(r for r in rows.values() if 'matched:3x32' in r['roles'])
  target = params.mlp_param_count(64, [32] * 3, 10, biases=False)
  m = shallow['matching'][0]
  assert m['target'] == target
  assert m['relative_mismatch'] == pytest.approx(
      (params.mlp_param_count(64, shallow['hidden_widths'], 10, biases=False)
       - target) / target)
  assert deep['param_count'] == params.mlp_param_count(64, [32] * 3, 10)
  assert 'matched:3x32 (' in (tmp_path / 'results.md').read_text()


@pytest.mark.slow
def test_launcher_end_to_end(tmp_path, tfds_dir):
  workdir = tmp_path / 'run'
  proc = _launch('--config=experiments/configs/deep_vs_shallow.py:runlocal',
                 f'--workdir={workdir}', env={'TFDS_DATA_DIR': tfds_dir})
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert '| L x N |' in proc.stdout and str(workdir) in proc.stdout
  files = sorted(os.listdir(workdir))
  assert files == ['results.json', 'results.md', 'results.png', 'trials.jsonl']
  with open(workdir / 'results.json') as f:
    summary = json.load(f)
  config = dvs_config.get_config('runlocal')
  rows = summary['architectures']
  assert len(rows) == len(deep_vs_shallow.build_grid(config, 64, 10))
  for r in rows:
    assert r['status'] == 'done' and 0 <= r['test_error_mean'] <= 1
    assert len(r['test_errors']) == config.num_seeds
    assert r['num_candidates'] == len(config.learning_rates)
    assert r['val_minus_test'] == pytest.approx(
        r['val_error_mean'] - r['test_error_mean'])
  with open(workdir / 'trials.jsonl') as f:
    assert len(f.readlines()) == len(rows) * config.num_seeds * len(
        config.learning_rates)
  with open(workdir / 'results.png', 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'
  md = (workdir / 'results.md').read_text()
  assert 'Seide et al. 2011' in md and '17.2' in md  # The reference table.


BAD_INPUTS = [
    (['--config.dataset=imagenet'], "unknown dataset 'imagenet'"),
    (['--config.nonexistent_field=1'], 'unknown config field'),
    (['--config.width=-3'], 'width must be'),
    (['--config.width=abc'], 'abc'),
    (['--config.depths=()'], 'depths must be a non-empty'),
    (['--config.depths=(1,0)'], 'depths must be'),
    (['--config.budgets=(50,)'], 'below the smallest'),
    (['--config.learning_rates=(0.0,)'], 'learning_rates must be positive'),
    (['--config.activation=swish'], 'unknown activation'),
    (['--config.val_fraction=1.5'], 'val_fraction'),
    (['--config=experiments/configs/deep_vs_shallow.py:imagenet'],
     'expected [DATASET][,runlocal]'),
    (['--config=experiments/configs/nope.py'], 'could not load the config'),
    (['stray_argument'], 'unexpected arguments'),
    (['--config.batch_size=100000'], 'larger than the'),
    (['--config.split_seed=-1'], 'split_seed must be an integer >= 0'),
    (["--config.learning_rates=('fast',)"], 'learning_rates must be positive'),
]


@pytest.mark.parametrize('args,message', BAD_INPUTS,
                         ids=[a[0].split('=')[0] + str(i)
                              for i, (a, _) in enumerate(BAD_INPUTS)])
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path, tfds_dir):
  workdir = tmp_path / 'never_created'
  proc = _launch(*args, f'--workdir={workdir}',
                 env={'TFDS_DATA_DIR': tfds_dir})
  lines = [l for l in proc.stderr.splitlines() if l.strip()]
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert len(lines) == 1 and lines[0].startswith('error: '), proc.stderr
  assert message in lines[0]
  assert 'Traceback' not in proc.stderr + proc.stdout
  assert not workdir.exists()


def test_workdir_under_a_file_is_refused(tmp_path, tfds_dir):
  blocker = tmp_path / 'a_file'
  blocker.write_text('x')
  proc = _launch(f'--workdir={blocker}/run', env={'TFDS_DATA_DIR': tfds_dir})
  assert proc.returncode == 2
  assert proc.stderr.strip().startswith('error: workdir')
  assert proc.stderr.count('\n') == 1 and blocker.read_text() == 'x'
