"""Where depth pays: the nested training sets (by content: nested, none in
the validation or the real test set), the pool's size, the regimes on
made-up rows, and the study end to end."""

import json
import os

import numpy as np
import pytest
from conftest import refused, unread_fields

from deepvsshallow import data, runner, stats
from deepvsshallow.studies import data_size
from deepvsshallow.studies.data_size import experiment, report

ds_config = data_size.config


def _rows_of(split):
  return {row.tobytes() for row in split.inputs.reshape(len(split), -1)}


def _nearest(a, b) -> np.ndarray:
  """Each row of `a`'s squared distance to its nearest row of `b`."""
  a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
  return ((a[:, None] - b[None]) ** 2).sum(-1).min(1)


def test_training_sets_are_nested_and_share_nothing_with_validation_or_test(
    tfds_dir):
  c = ds_config.get_config('')
  c.train_sizes, c.validation_size = (100, 200, 400), 100
  pool = data.load_dataset('mnist1d', data_dir=tfds_dir,
                           generator=experiment.pool_generator(c))
  sets = experiment.training_sets(pool, c.train_sizes, c.validation_size)
  assert [len(s.train) for s in sets] == [100, 200, 400]
  test = pool.test()
  test_rows = _rows_of(test)
  validation = _rows_of(sets[0].validation)
  assert len(validation) == 100
  for small, large in zip(sets, sets[1:]):
    # Nested by content: the smaller set is the larger one's head.
    np.testing.assert_array_equal(small.train.inputs,
                                  large.train.inputs[:len(small.train)])
    np.testing.assert_array_equal(small.train.targets,
                                  large.train.targets[:len(small.train)])
  for s in sets:
    rows = _rows_of(s.train)
    assert len(rows) == len(s.train)                # No duplicates.
    assert not rows & validation and not rows & test_rows
    np.testing.assert_array_equal(s.validation.inputs, sets[0].validation.inputs)
    np.testing.assert_array_equal(s.test().inputs, test.inputs)
  # Not merely distinct bytes: no training or validation signal is near a
  # test signal (distinct MNIST-1D signals lie at squared distances of
  # about 10 or more; a copy, even rescaled by 1%, at under 0.1).
  seen = np.concatenate([sets[-1].train.inputs, sets[0].validation.inputs])
  assert _nearest(test.inputs, seen).min() > 1.0
  copy = np.concatenate([seen[:5] * 1.01, test.inputs[5:]])
  assert _nearest(copy, seen).min() < 0.1          # The check can fail.
  with pytest.raises(ValueError, match='needs 4000'):
    experiment.training_sets(pool, (4000,), 100)


def test_num_epochs_and_patience_count_passes_over_the_published_set():
  c = ds_config.get_config('')
  # 5,000 samples, 80% train = 4,000, 15% of it validation: 3,400.
  assert experiment.reference_examples(c) == 3_400


@pytest.mark.parametrize('sizes,validation,val_fraction', [
    ((1000, 256_000), 4000, 0.15), ((200, 400), 200, 0.15),
    ((50,), 3000, 0.15), ((10_000,), 100, 0.5)])
def test_the_pool_holds_the_largest_size_and_the_validation_set(
    sizes, validation, val_fraction):
  c = ds_config.get_config('')
  c.train_sizes, c.validation_size, c.val_fraction = (sizes, validation,
                                                      val_fraction)
  n = experiment.pool_samples(c)
  assert n % 10 == 0
  # The package: n // 10 per class, its first 80% train; then the run's
  # validation carve (data.carve_validation).
  train_split = int(10 * (n // 10) * 0.8)
  n_val = data.num_validation(train_split, val_fraction)
  assert train_split - n_val >= max(sizes) and n_val >= validation
  # Not wastefully more: 10 samples fewer would not do.
  smaller = int(10 * ((n - 10) // 10) * 0.8)
  small_val = data.num_validation(smaller, val_fraction)
  assert smaller - small_val < max(sizes) or small_val < validation


def test_budgets_match_each_deep_net_with_the_nearest_shallow_count():
  c = ds_config.get_config('')
  got = experiment.budgets(c, 40, 10)
  # 3 x 16: 40*16+16 + 2*(16*16+16) + 16*10+10 = 1,370; one hidden layer
  # of w has 51 w + 10 parameters: w = 27 gives 1,387 (26: 1,336).
  assert got[0] == ((16, 16, 16), (27,))
  assert [d for d, _ in got] == [(w,) * 3 for w in c.deep_widths]


@pytest.mark.parametrize('overrides,field', [
    (dict(pool_seed=-1), 'pool_seed'),
    (dict(train_sizes=(2000, 1000)), 'train_sizes'),
    (dict(train_sizes=(1000, 1000)), 'train_sizes'),
    (dict(train_sizes=()), 'train_sizes'),
    (dict(validation_size=10), 'validation_size'),
    (dict(deep_depth=1), 'deep_depth'),
])
def test_bad_config_is_one_usage_line_and_writes_nothing(overrides, field,
                                                         tmp_path):
  c = ds_config.get_config('')
  c.update(overrides)
  message = refused(data_size.train_and_evaluate, c, tmp_path / 'never')
  assert message.startswith(f'config.{field}'), message


# ------------------------------------------------- regimes on made-up rows

N = 400    # Test examples of the made-up rows.


def _row(family, budget, n, error_rate, seeds=3, status='done', seed=0):
  """A row whose seed s gets about `error_rate` + s/100 of N examples
  wrong (the wrong ones drawn at random per seed)."""
  rng = np.random.default_rng(seed)
  wrong = np.zeros((seeds, N))
  for s in range(seeds):
    wrong[s, rng.choice(N, int((error_rate + s / 100) * N),
                        replace=False)] = 1
  done = status == 'done'
  widths = (int(budget.split('x')[0]),) * 3 if family == 'deep' else (99,)
  return report.Row(
      family=family, hidden_widths=widths, budget=budget,
      param_count=1000 if family == 'deep' else 1001, train_examples=n,
      num_epochs=10,
      convergence=runner.Convergence(2, (5,) * seeds, (8,) * seeds),
      scores=runner.Scores(
          status=status, metric='error', num_candidates=2,
          learning_rate=1e-2 if done else None,
          test_per_seed=tuple(wrong.mean(1)) if done else (),
          test_examples=runner.encode_examples(wrong) if done else '',
          grid=(3e-3, 1e-2, 3e-2)))


def test_regimes_name_where_deep_wins_ties_and_loses():
  rows = [_row('deep', '8x8x8', 1000, 0.30, seed=1),
          _row('shallow', '8x8x8', 1000, 0.50, seed=2),   # Deep wins.
          _row('deep', '8x8x8', 2000, 0.20, seed=3),
          _row('shallow', '8x8x8', 2000, 0.20, seed=4),   # Tie.
          _row('deep', '8x8x8', 4000, 0.40, seed=5),
          _row('shallow', '8x8x8', 4000, 0.10, seed=6),   # Shallow wins.
          _row('deep', '8x8x8', 8000, 0.1, status='diverged'),
          _row('shallow', '8x8x8', 8000, 0.1)]            # Unpaired: left out.
  (g,) = report.regimes(rows)
  assert [c.size for c in g.cells] == [1000, 2000, 4000]
  assert g.sizes('deep wins') == [1000]
  assert g.sizes('tie') == [2000]
  assert g.sizes('shallow wins') == [4000]
  # Each comparison is the yardstick's, on the rows' per-example errors.
  c = stats.compare(rows[0].scores.test_per_example,
                    rows[1].scores.test_per_example, higher_is_better=False)
  assert g.cells[0].comparison == c
  np.testing.assert_allclose(c.difference, -0.20, atol=1e-12)
  assert c.verdict == 'supported' and c.high < 0
  line = report.verdict(rows)
  assert ('deep wins at N = 1,000; tie at N = 2,000; shallow wins at N = '
          '4,000.') in line
  # Depth's edge at the smallest size against the largest: -0.2 - 0.3.
  (t,) = report.trends(report.regimes(rows))
  assert (t.small, t.large) == (1000, 4000)
  np.testing.assert_allclose(t.comparison.difference, -0.5, atol=1e-12)
  assert t.comparison.verdict == 'supported'
  assert '(deep − shallow) at 1,000 − at 4,000 = -50.0 [' in line
  # Seide: 1.11e8 frames / 36.7M weights = 3.03 per weight, so N = 3,030
  # for a 1,000-parameter budget; of 1k, 2k, 4k the nearest is 4,000.
  assert 'N ≈ 3,030, nearest measured 4,000: shallow wins' in line
  summary = {'rows': runner.to_json(rows)}
  assert report.headline(summary).count('\n') == 0
  assert 'deep wins at N = 1,000' in report.headline(summary)


@pytest.mark.slow
def test_runlocal_end_to_end(runlocal):
  run = runlocal('data_size')
  assert not unread_fields(run, 'data_size') - {'grid_extensions'}
  workdir = run.workdir
  summary = json.loads((workdir / 'results.json').read_text())
  config = ds_config.get_config('runlocal')
  rows = report.rows_of(summary)
  assert len(rows) == 2 * len(config.train_sizes) * len(config.deep_widths)
  assert sorted({r.train_examples for r in rows}) == list(config.train_sizes)
  assert all(r.scores.done for r in rows)
  for r in rows:
    # The same real test set for every size, each seed's error on each
    # example; patience and the cap in passes over its own set.
    per_example = r.scores.test_per_example
    assert per_example.shape == (config.num_seeds, summary['test_examples'])
    np.testing.assert_allclose(per_example.mean(1), r.scores.test_per_seed,
                               rtol=1e-6)
    c = r.convergence
    assert c.patience >= 1 and len(c.ran_epochs) == config.num_seeds
    assert all(0 <= e < ran <= r.num_epochs
               for e, ran in zip(c.kept_epochs, c.ran_epochs))
  # The larger set gets fewer passes for the same steps.
  caps = {r.train_examples: r.num_epochs for r in rows}
  assert caps[config.train_sizes[0]] >= caps[config.train_sizes[-1]]
  assert report.render_markdown(summary) == (workdir / 'results.md').read_text()
  assert sorted(os.listdir(workdir)) == ['config.json', 'populations',
                                         'results.json', 'results.md',
                                         'results.png', 'tensorboard',
                                         'trials.jsonl']
  (g,) = report.regimes(rows)
  assert [c.size for c in g.cells] == list(config.train_sizes)
  head = data_size.STUDY.headline(summary)
  assert '\n' not in head and g.budget in head


def test_a_member_converged_when_patience_passed_before_it_stopped():
  c = lambda kept, ran, patience: runner.Convergence(patience, kept, ran)
  # Patience 3: kept epoch 4 of 8 run (epochs 5, 6, 7 without improving):
  # stopped by patience; kept 5 of 8: only 2 such epochs, so the cap (or
  # another member) stopped it.
  assert c((4, 5), (8, 8), 3).stopped_by_patience == [True, False]
  assert c((4,), (8,), 0).stopped_by_patience == [False]
  # Each stops `patience` epochs after its best, or at its population's end.
  assert c((4, 5), (8, 8), 3).cell() == (
      '6/8 (1 of 2 at the cap)')
  assert c((1, 3), (8, 10), 3).cell() == '3/6'
