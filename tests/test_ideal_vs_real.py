"""Ideal vs real: equal steps on both sets, no test example in the ideal
set's seed, the verdicts on hand-made rows, and the study end to end."""

import json
import os

import numpy as np
import pytest
from conftest import refused, unread_fields

from deepvsshallow import data, runner
from deepvsshallow.studies import ideal_vs_real
from deepvsshallow.studies.ideal_vs_real import experiment, report

ivr_config = ideal_vs_real.config


def test_epochs_for_gives_at_least_the_steps():
  # Real: 3,400 / 64 = 53 steps an epoch, 150 epochs = 7,950 steps; ideal:
  # 170,000 / 64 = 2,656 an epoch, so 3 epochs (7,968 steps).
  assert experiment.epochs_for(7_950, 170_000, 64) == 3
  assert experiment.epochs_for(10, 3_400, 64) == 1
  assert experiment.epochs_for(54, 3_400, 64) == 2


def test_architectures_pair_each_deep_net_with_its_match():
  c = ivr_config.get_config('')
  grid = experiment.architectures(c, 40, 10)
  assert [f for f, _ in grid] == ['deep', 'shallow'] * len(c.deep_widths)
  assert grid[0] == ('deep', (16, 16, 16))


def test_the_ideal_set_shares_no_example_with_the_real_test_set(tfds_dir):
  real = data.load_dataset('mnist1d', data_dir=tfds_dir,
                           generator={'num_samples': 500, 'seed': 42})
  ideal = data.load_dataset('mnist1d', data_dir=tfds_dir,
                            generator={'num_samples': 2500, 'seed': 1})
  test = real.test().inputs.reshape(100, -1)
  pool = np.concatenate([ideal.train.inputs, ideal.validation.inputs])
  pool = pool.reshape(len(pool), -1)
  nearest = np.min(((test[:, None] - pool[None]) ** 2).sum(-1), axis=1)
  assert nearest.min() > 1e-3


@pytest.mark.parametrize('overrides,field', [
    (dict(ideal_seed=42), 'ideal_seed'),     # The real set's seed.
    (dict(ideal_seed=-1), 'ideal_seed'),
    (dict(ideal_factor=1), 'ideal_factor'),
    (dict(deep_depth=1), 'deep_depth'),
    (dict(deep_widths=()), 'deep_widths'),
])
def test_bad_config_is_one_usage_line_and_writes_nothing(overrides, field,
                                                         tmp_path):
  c = ivr_config.get_config('')
  c.update(overrides)
  message = refused(ideal_vs_real.train_and_evaluate, c, tmp_path / 'never')
  assert message.startswith(f'config.{field}'), message


def test_a_dataset_that_is_not_generated_is_refused(tmp_path):
  c = ivr_config.FIELDS.config(dataset='digits')
  assert 'generator' not in c.keys()
  message = refused(ideal_vs_real.train_and_evaluate, c, tmp_path / 'never')
  assert message.startswith('config.dataset')


@pytest.mark.slow
def test_runlocal_end_to_end(runlocal):
  run = runlocal('ideal_vs_real')
  assert not unread_fields(run, 'ideal_vs_real')
  workdir = run.workdir
  summary = json.loads((workdir / 'results.json').read_text())
  config = ivr_config.get_config('runlocal')
  rows = report.rows_of(summary)
  assert len(rows) == 2 * 2 * len(config.deep_widths)
  assert summary['train_examples']['ideal'] > 4 * summary['train_examples'][
      'real']
  real_steps = {r.num_epochs * (r.train_examples // config.batch_size)
                for r in rows}
  assert all(r.scores.done for r in rows)
  assert min(real_steps) >= 2 * (summary['train_examples']['real']
                                 // config.batch_size)
  for r in rows:   # One value per seed, the table's means.
    for per_seed, mean in ((r.test_loss_per_seed, r.test_loss_mean),
                           (r.scores.test_per_seed, r.scores.test_mean)):
      assert len(per_seed) == config.num_seeds
      np.testing.assert_allclose(np.mean(per_seed), mean, rtol=1e-6)
  assert {r.data for r in rows} == {'real', 'ideal'}
  assert {r.family for r in rows} == {'deep', 'shallow'}
  # The stored rows render the same report the run wrote.
  assert report.render_markdown(summary) == (workdir / 'results.md').read_text()
  assert sorted(os.listdir(workdir)) == ['config.json', 'populations',
                                         'results.json', 'results.md',
                                         'results.png', 'tensorboard',
                                         'trials.jsonl']
  assert '| family | hidden |' in run.output
  # One deep-vs-shallow line (one width: no trend in size to judge).
  assert report.verdict(rows).count('- ') == 1
  assert ideal_vs_real.STUDY.headline(summary)


# ------------------------------------------------- verdicts on made-up rows


def _row(family, width, data_, losses, params, status='done'):
  done = status == 'done'
  return report.Row(
      data=data_, family=family, hidden_widths=(width,), param_count=params,
      train_examples=3400, num_epochs=1,
      scores=runner.Scores(status=status, metric='error', num_candidates=1,
                           test_per_seed=(0.3,) * len(losses) if done
                           else ()),
      test_loss_per_seed=tuple(losses) if done else ())


def _pair(family, width, params, real, ideal):
  return [_row(family, width, 'real', real, params),
          _row(family, width, 'ideal', ideal, params)]


@pytest.mark.parametrize('small,large,outcome', [
    # (real, ideal) losses per seed at the smaller and the larger size.
    (((1.0, 1.1, 0.9), (0.8, 0.9, 0.7)), ((2.0, 2.1, 1.9), (0.5, 0.6, 0.4)),
     'supported'),     # Gap 0.2 -> 1.5.
    (((2.0, 2.1, 1.9), (0.5, 0.6, 0.4)), ((1.0, 1.1, 0.9), (0.8, 0.9, 0.7)),
     'contradicted'),  # Gap 1.5 -> 0.2.
    (((1.0, 1.5, 0.5), (0.8, 0.9, 0.7)), ((1.2, 0.6, 1.5), (0.8, 0.9, 0.7)),
     'inconclusive'),
])
def test_the_gap_verdict_reaches_each_outcome(small, large, outcome):
  rows = _pair('shallow', 10, 500, *small) + _pair('shallow', 40, 2000,
                                                   *large)
  pairs = report._pairs(rows)
  c = report.gap_grows(pairs[('shallow', (10,))], pairs[('shallow', (40,))])
  assert c.verdict == outcome
  gap = lambda real, ideal: np.mean(real) - np.mean(ideal)
  assert c.difference == pytest.approx(gap(*large) - gap(*small))
  [line] = report.verdict(rows).splitlines()
  assert line.startswith('- shallow: ') and f': {outcome})' in line
  assert f'{c.difference:+.2f} [' in line


@pytest.mark.parametrize('deep,shallow,outcome', [
    ((0.5, 0.6, 0.4), (0.9, 1.0, 0.8), 'supported'),
    ((0.9, 1.0, 0.8), (0.5, 0.6, 0.4), 'contradicted'),
    ((0.5, 1.0, 0.7), (0.9, 0.4, 0.6), 'inconclusive'),
    ((0.5,), (0.9,), 'inconclusive'),       # One seed decides nothing.
])
def test_the_ideal_depth_verdict_reaches_each_outcome(deep, shallow, outcome):
  rows = (_pair('deep', 8, 562, (2.0,) * len(deep), deep)
          + _pair('shallow', 11, 571, (2.0,) * len(shallow), shallow))
  c = report.deep_reaches_lower(rows[1], rows[3])
  assert c.verdict == outcome
  assert c.difference == pytest.approx(np.mean(deep) - np.mean(shallow))
  [line] = report.verdict(rows).splitlines()
  assert f'562 vs 571 params: deep − shallow = {c.difference:+.2f}' in line
  assert f': {outcome})' in line
  assert f'in {int(outcome == "supported")} of 1 ' in line
  assert report.headline(runner.to_json({'rows': rows})) == line[2:]


def test_the_verdicts_skip_diverged_and_unpaired_rows():
  rows = (_pair('deep', 8, 562, (2.0, 2.1), (1.0, 1.1))
          + [_row('deep', 16, 'real', (2.0, 2.1), 1500),
             _row('deep', 16, 'ideal', None, 1500, status='diverged')])
  assert list(report._pairs(rows)) == [('deep', (8,))]
  assert report.verdict(rows) == ''    # No shallow net, one deep size.
  assert report.results_table(rows).count('\n| deep |') == 1


def test_rows_survive_results_json():
  rows = (_pair('deep', 8, 562, (2.0, 2.1), (1.0, 1.1))
          + [_row('deep', 16, 'ideal', None, 1500, status='diverged')])
  summary = runner.to_json({'rows': rows})
  assert report.rows_of(summary) == rows
  assert summary['rows'][0]['test_loss_per_seed'] == [2.0, 2.1]
  assert rows[0].test_loss_mean == pytest.approx(2.05)
