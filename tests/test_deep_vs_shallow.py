"""The main job, end to end, and every bad input the launcher must refuse."""

import dataclasses
import json
import os

import numpy as np
import pytest
from conftest import launch, refused, study_run

from deepvsshallow import data, params, selection, train
from deepvsshallow.errors import UsageError
from deepvsshallow.studies import deep_vs_shallow
from experiments.configs import deep_vs_shallow as dvs_config




def _tiny_config(**overrides):
  c = dvs_config.get_config('digits,runlocal')
  c.depths, c.budgets, c.num_epochs = (1, 2), (), 1
  # The extras add programs to compile; the tests that need them say so.
  c.linear_baseline = c.mimic = False
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
                                                    digits, read_tracker):
  events = []
  monkeypatch.setattr(data, 'load_dataset', lambda *a, **k: (
      dataclasses.replace(digits, _read_test=lambda: events.append('test')
                          or digits.test())))
  real = train.train_population
  monkeypatch.setattr(train, 'train_population',
                      lambda *a, **k: events.append('train') or real(*a, **k))
  config = read_tracker(_tiny_config(linear_baseline=True, mimic=True,
                                     depths=(2,)))
  summary = deep_vs_shallow.train_and_evaluate(config, str(tmp_path / 'w'))
  # Every architecture, the logistic-regression baseline and the mimicking
  # students, then test.
  assert summary['linear_baseline']['status'] == 'done'
  assert len(summary['mimic']) == 1   # 2x32's matched net.
  assert events == ['train'] * (len(summary['architectures']) + 2) + ['test']
  # Every config field is read by the code: no knob is silently ignored.
  assert set(config.keys()) - config.read == set()


def test_diverged_candidates_are_recorded_and_the_sweep_goes_on(tmp_path,
                                                                tfds_dir):
  # (No logistic baseline here: its softmax gradient is bounded, so even at
  # lr=1e30 it stays finite.)
  c = _tiny_config(optimizer='sgd', schedule='constant',
                   learning_rates=(0.1, 1e30), num_epochs=2, depths=(1,))
  summary = deep_vs_shallow.train_and_evaluate(c, str(tmp_path))
  with open(tmp_path / 'trials.jsonl') as f:
    trials = [json.loads(l) for l in f]
  assert {t['status'] for t in trials if t["learning_rate"] == 1e30} == {
      'diverged'}
  assert {t['status'] for t in trials if t['learning_rate'] == 0.1} == {'done'}
  for row in summary['architectures']:
    assert row['status'] == 'done' and row['learning_rate'] == 0.1
    assert row['num_diverged'] == c.num_seeds


def test_weights_only_matching_runs_and_reports_mismatch(tmp_path, tfds_dir):
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
def test_launcher_end_to_end(lecture_runlocal):
  workdir, output = study_run(lecture_runlocal, 'deep_vs_shallow')
  assert '| L x N |' in output and str(workdir) in output
  files = sorted(os.listdir(workdir))
  assert files == ['config.json', 'populations', 'results.json', 'results.md',
                   'results.png', 'tensorboard', 'trials.jsonl']
  with open(workdir / 'results.json') as f:
    summary = json.load(f)
  config = dvs_config.get_config('runlocal')
  assert summary['dataset']['name'] == 'mnist1d'   # The default.
  assert summary['dataset']['input_dim'] == 40
  rows = summary['architectures']
  assert len(rows) == len(deep_vs_shallow.build_grid(config, 40, 10))
  for r in rows:
    assert r['status'] == 'done' and 0 <= r['test_error_mean'] <= 1
    assert len(r['test_per_seed']) == config.num_seeds
    assert r['num_candidates'] == len(config.learning_rates)
    assert r['val_minus_test'] == pytest.approx(
        r['val_error_mean'] - r['test_error_mean'])
  base = summary['linear_baseline']
  assert base['status'] == 'done' and base['param_count'] == 40 * 10 + 10
  assert 'Logistic regression (410 parameters)' in output
  mimics = summary['mimic']   # One student per deep net with a matched net.
  assert [m['teacher'] for m in mimics] == ['2x32']
  assert all(m['status'] == 'done' and 0 <= m['test_error_mean'] <= 1
             for m in mimics)
  with open(workdir / 'trials.jsonl') as f:  # Baseline and students too.
    assert len(f.readlines()) == (len(rows) + 1 + len(mimics)) * (
        config.num_seeds * len(config.learning_rates))
  with open(workdir / 'results.png', 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'
  md = (workdir / 'results.md').read_text()
  assert 'Seide et al. 2011' in md and '17.2' in md  # The reference table.


BAD_CONFIGS = [
    (dict(dataset='imagenet'), "unknown dataset 'imagenet'"),
    (dict(width=-3), 'width must be'),
    (dict(depths=()), 'depths must be a non-empty'),
    (dict(depths=(1, 0)), 'depths must be'),
    (dict(budgets=(50,)), 'below the smallest'),
    (dict(learning_rates=(0.0,)), 'learning_rates must be positive'),
    (dict(learning_rates=('fast',)), 'learning_rates must be positive'),
    (dict(activation='swish'), 'activation must be one of'),
    (dict(val_fraction=1.5), 'val_fraction'),
    (dict(batch_size=100000), 'larger than the'),
    (dict(split_seed=-1), 'split_seed must be an integer >= 0'),
    (dict(optimizer='lbfgs'), 'optimizer must be one of'),
    (dict(members='sometimes'), 'members must be one of'),
    (dict(matmul_precision='tf32'), 'matmul_precision must be one of'),
    (dict(weight_decay=-1.0), 'weight_decay must be >= 0'),
]


GENERATOR_BAD = [
    (dict(num_samples=20), 'generator.num_samples=20 is below'),
    (dict(seed=-1), 'generator.seed must be >= 0'),
]


@pytest.mark.parametrize('generator,message', GENERATOR_BAD,
                         ids=[next(iter(g)) + str(i)
                              for i, (g, _) in enumerate(GENERATOR_BAD)])
def test_bad_generator_is_one_usage_line_and_writes_nothing(generator,
                                                            message, tmp_path):
  config = dvs_config.get_config('mnist1d')
  config.generator.update(generator)
  assert message in refused(deep_vs_shallow.train_and_evaluate, config, tmp_path / 'never_created')


def test_batch_check_follows_the_generator_size(tmp_path):
  config = dvs_config.get_config('mnist1d')
  config.generator.num_samples = 100     # 80 train, 68 after validation.
  config.batch_size = 70
  with pytest.raises(UsageError, match='larger than the 68 training'):
    deep_vs_shallow.train_and_evaluate(config, str(tmp_path / 'never'))


@pytest.mark.parametrize('overrides,message', BAD_CONFIGS,
                         ids=[next(iter(o)) + str(i)
                              for i, (o, _) in enumerate(BAD_CONFIGS)])
def test_bad_config_is_one_usage_line_and_writes_nothing(overrides, message,
                                                         tmp_path):
  config = dvs_config.get_config('')
  config.update(overrides)
  assert message in refused(deep_vs_shallow.train_and_evaluate, config, tmp_path / 'never_created')


def test_every_problem_is_reported_in_one_pass(tmp_path):
  config = dvs_config.get_config('')
  config.update(width=-3, val_fraction=2.0, optimizer='lbfgs')
  with pytest.raises(UsageError) as e:
    deep_vs_shallow.train_and_evaluate(config, str(tmp_path / 'never'))
  lines = str(e.value).splitlines()
  assert len(lines) == 3
  assert [any(k in l for l in lines) for k in ('width', 'val_fraction',
                                                'optimizer')] == [True] * 3


def test_unknown_config_argument_names_the_choices():
  with pytest.raises(ValueError, match=r'expected \[DATASET\]\[,runlocal\]'):
    dvs_config.get_config('imagenet')


LAUNCHER_BAD_INPUTS = [
    # Flag parsing, before any config exists.
    (['--config.nonexistent_field=1'], ['unknown config field']),
    (['--config.width=abc'], ['abc']),
    (['stray_argument'], ['unexpected arguments']),
    (['--config.generator.seed=0.5'], ['--config.generator.seed=0.5']),
    # The validation pass: one line per problem.
    (['--config.width=-3', '--config.val_fraction=1.5'],
     ['width must be', 'val_fraction']),
]


@pytest.mark.parametrize('args,messages', LAUNCHER_BAD_INPUTS,
                         ids=[a[0].split('=')[0] for a, _ in
                              LAUNCHER_BAD_INPUTS])
def test_launcher_bad_input_is_error_lines_and_exit_2(args, messages,
                                                      tmp_path, tfds_dir):
  workdir = tmp_path / 'never_created'
  proc = launch('deep_vs_shallow', *args, f'--workdir={workdir}',
                 env={'TFDS_DATA_DIR': tfds_dir})
  lines = [l for l in proc.stderr.splitlines() if l.strip()]
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert len(lines) == len(messages), proc.stderr
  assert all(l.startswith('error: ') for l in lines)
  for message in messages:  # One line each, in any order.
    assert sum(message in l for l in lines) == 1, (message, lines)
  assert 'Traceback' not in proc.stderr + proc.stdout
  assert not workdir.exists()


@pytest.mark.parametrize('make_workdir', [
    lambda tmp: tmp / 'a_file' / 'run',   # Under a file.
    lambda tmp: '/proc/deepvsshallow/run',  # Cannot be created at all.
])
def test_workdir_that_cannot_be_made_is_refused(make_workdir, tmp_path):
  (tmp_path / 'a_file').write_text('x')
  with pytest.raises(UsageError, match='workdir .* cannot be created'):
    deep_vs_shallow.train_and_evaluate(_tiny_config(),
                                       str(make_workdir(tmp_path)))
  assert (tmp_path / 'a_file').read_text() == 'x'


def test_offline_dataset_error_leaves_no_workdir(tmp_path, monkeypatch):
  def offline(*args, **kwargs):
    raise data.UsageError('dataset is not prepared (offline)')
  monkeypatch.setattr(data, 'load_dataset', offline)
  with pytest.raises(UsageError, match='not prepared'):
    deep_vs_shallow.train_and_evaluate(_tiny_config(),
                                       str(tmp_path / 'a' / 'b'))
  assert not (tmp_path / 'a').exists()
