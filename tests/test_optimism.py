"""Selection is training (optimism): its refusals, the select / holdout
split, the noise estimate against a known noise, the verdicts on made-up
pools, and the study end to end."""

import dataclasses
import json

import numpy as np
import pytest
from conftest import refused, unread_fields

from deepvsshallow import data, runner, selection, stats
from deepvsshallow.studies import optimism
from deepvsshallow.studies.optimism import experiment, report

optimism_config = optimism.config


@pytest.mark.parametrize('overrides,field', [
    (dict(ks=(1, 2, 1024)), 'ks'),           # K > the pool of 8.
    (dict(budget=50), 'budget'),             # Below depth 4 at width 1.
    (dict(lr_range=(0.1, 0.01)), 'lr_range'),
    (dict(lr_range=(0.0, 0.01)), 'lr_range'),
    (dict(datasets=('mnist1d', 'imagenet')), 'datasets'),
    (dict(resamples=5), 'resamples'),
])
def test_optimism_refuses_bad_configs(tmp_path, overrides, field):
  config = optimism_config.get_config('runlocal')
  config.update(overrides)
  message = refused(optimism.train_and_evaluate, config, tmp_path / 'never')
  assert message.startswith(f'config.{field}'), message


def test_the_pool_and_budget_checks_name_the_numbers():
  config = optimism_config.get_config('runlocal')
  config.ks = (1, 2, 1024)
  [line] = optimism_config.FIELDS.problems(config)
  assert 'K=1024' in line and 'pool of 8' in line
  config = optimism_config.get_config('runlocal')
  config.budget = 50
  [line] = optimism_config.FIELDS.problems(config)
  assert 'depth 4' in line


def test_select_and_holdout_halves_partition_validation():
  x = np.arange(20)[:, None].astype(np.float32)
  ds = data.in_memory('toy', data.Split(x, np.arange(20) % 2),
                      data.Split(x[:4], np.zeros(4, np.int64)),
                      val_fraction=0.5, split_seed=0,
                      input_convention='float', task='classification',
                      num_classes=2)
  select, holdout = experiment.split_validation(ds, seed=3)
  a, b = select.validation.inputs[:, 0], holdout.inputs[:, 0]
  assert len(a) == len(b) == 5 and not set(a) & set(b)
  assert sorted([*a, *b]) == sorted(ds.validation.inputs[:, 0])
  np.testing.assert_array_equal(select.train.inputs, ds.train.inputs)


def test_noise_sigma_recovers_a_known_noise():
  rng = np.random.default_rng(0)
  true = rng.uniform(0.2, 0.4, 4000)
  val = true + 0.02 * rng.normal(size=4000)
  holdout = true + 0.02 * rng.normal(size=4000)
  assert experiment.noise_sigma(val, holdout) == pytest.approx(0.02, rel=0.08)


@pytest.mark.slow
def test_runlocal_end_to_end(runlocal):
  run = runlocal('optimism')
  assert not unread_fields(run, 'optimism')
  summary = json.loads((run.workdir / 'results.json').read_text())
  config = optimism_config.get_config('runlocal')
  assert list(summary['datasets']) == list(config.datasets)
  for result in report.pools_of(summary).values():
    assert [r.k for r in result.rows] == list(config.ks)
    assert result.pool + result.diverged == (
        config.pool_architectures * config.candidates_per_architecture)
    assert all(len(v) == result.pool for v in result.candidates.values())
    # The bootstrap's K=1 is one candidate at a time: the pool's mean,
    # within 4 standard errors of its resamples.
    test = np.asarray(result.candidates['test'])
    assert result.rows[0].test_mean == pytest.approx(
        test.mean(), abs=4 * test.std() / np.sqrt(config.resamples) + 1e-6)
  assert '| K | picked: select err % |' in run.output
  # The stored results render the same report the run wrote.
  assert report.render_markdown(summary) == (
      run.workdir / 'results.md').read_text()
  head = optimism.STUDY.headline(summary)
  assert head.count('its growth, K=') == 3 * len(config.datasets)
  for result in report.pools_of(summary).values():
    # One test error per candidate and test example, their means the pool's.
    errors = runner.decode_examples(result.test_examples)
    assert errors.shape == (result.pool, result.split_sizes['test'])
    np.testing.assert_allclose(errors.mean(1), result.candidates['test'],
                               atol=1e-5)
    # The halves' per-example errors: their means are the errors the pool
    # was picked on (select, measured in training) and checked on.
    for split in ('select', 'holdout'):
      errors = runner.decode_examples(getattr(result, f'{split}_examples'))
      assert errors.shape == (result.pool, result.split_sizes[split])
      np.testing.assert_allclose(errors.mean(1), result.candidates[split],
                                 atol=1e-5)


# ------------------------------------------------- verdicts on made-up pools


def _result(select, holdout, test_PN, ks, keep_examples=True, select_PN=None,
            holdout_PN=None):
  """A pool whose candidates have these select and holdout errors and
  these errors on each test example (candidates, examples); with
  `select_PN` and `holdout_PN`, the select and holdout errors are their
  means."""
  test = test_PN.mean(1)
  halves = {}
  if select_PN is not None:
    select, holdout = select_PN.mean(1), holdout_PN.mean(1)
    halves = {'select_examples': runner.encode_examples(select_PN),
              'holdout_examples': runner.encode_examples(holdout_PN)}
  rows = selection.bootstrap_best_of_k(select, test, ks, resamples=50, seed=0,
                                      holdout_N=holdout)
  return report.Pool(
      rows=tuple(report.KRow.from_bootstrap(r, predicted_optimism=0.0,
                                            sqrt_2_ln_k=0.0) for r in rows),
      sigma=0.01, pool=len(select),
      candidates={'select': list(select), 'holdout': list(holdout),
                  'test': list(test)},
      diverged=0, split_sizes={}, pool_val_error=selection.mean_std(select),
      pool_test_error=selection.mean_std(test),
      best_test_in_pool=float(np.min(test)),
      test_examples=runner.encode_examples(test_PN) if keep_examples else '',
      **halves)


def _errors(rng, rate_P, examples=400):
  """0/1 errors on each test example with these rates, candidates apart."""
  return (rng.random((len(rate_P), examples))
          < np.clip(rate_P, 0, 1)[:, None]).astype(np.float64)


def test_independent_picks_are_the_best_of_disjoint_groups():
  rng = np.random.default_rng(1)
  val, hold = rng.uniform(size=(2, 12))
  test_PN = _errors(rng, rng.uniform(0.2, 0.4, 12))
  result = _result(val, hold, test_PN, (1, 4))
  picks = report.independent_picks(val, 4, seed=7)
  order = np.random.default_rng(7).permutation(12)
  np.testing.assert_array_equal(
      picks, [g[np.argmin(val[g])] for g in order.reshape(3, 4)])
  np.testing.assert_allclose(report.pick_scores(result, 4, 7),
                             test_PN[picks] - val[picks, None])
  np.testing.assert_allclose(
      report.pick_scores(result, 4, 7, 'holdout_optimism'),
      test_PN[picks] - hold[picks, None])
  assert len(report.independent_picks(val, 5, seed=7)) == 2
  # K=1: every candidate once.
  np.testing.assert_array_equal(np.sort(report.independent_picks(val, 1, 7)),
                                np.arange(12))


@pytest.mark.parametrize('case,holdout_is,outcome,cure_outcome', [
    # Picking on noise: optimism grows; a holdout near test does not.
    ('noisy select', 'near test', 'supported', 'inconclusive'),
    ('select is test', 'near test', 'inconclusive', 'inconclusive'),
    ('reversed', 'near test', 'contradicted', 'inconclusive'),
    # A "holdout" that shares select's noise is no cure: it grows too.
    ('noisy select', 'select', 'supported', 'supported'),
    # One whose noise mirrors select's shrinks as the pick gets luckier.
    ('noisy select', 'mirrored', 'supported', 'contradicted'),
])
def test_the_growth_verdict_reaches_each_outcome(case, holdout_is, outcome,
                                                 cure_outcome):
  rng = np.random.default_rng(0)
  true = rng.uniform(0.2, 0.4, 64)
  noise = rng.normal(0, 0.05, 64)
  if case == 'reversed':   # Test exaggerates select's noise.
    test_PN = _errors(rng, true + 2 * noise)
  else:
    test_PN = _errors(rng, true)
  test = test_PN.mean(1)
  select = test if case == 'select is test' else true + noise
  holdout = {'near test': test + rng.normal(0, 0.001, 64), 'select': select,
             'mirrored': true - noise}[holdout_is]
  result = _result(select, holdout, test_PN, (1, 8))
  c = report.growth(result, seed=0)
  cure = report.growth(result, seed=0, series='holdout_optimism')
  assert (c.verdict, cure.verdict) == (outcome, cure_outcome), (c, cure)
  # Paired over the 400 test examples, the 8 picks at K=8 against the 64
  # at K=1 (every candidate once: its mean is the pool's).
  assert c.seeds == (8, 64) and c.examples == 400
  picks = report.independent_picks(select, 8, 0)
  assert c.difference == pytest.approx(
      np.mean(test[picks] - select[picks]) - np.mean(test - select))
  assert cure.difference == pytest.approx(
      np.mean(test[picks] - holdout[picks]) - np.mean(test - holdout))
  assert c.low < c.difference < c.high
  g = report.growth_of(result, seed=0)
  assert (g.first.k, g.last.k) == (1, 8)
  assert g.optimism == c and g.cure == cure
  assert g.first == result.rows[0] and g.last == result.rows[-1]
  text = report.verdict('toy', result, 0)
  for comparison in (c, cure):
    assert comparison.describe('K=8', 'K=1', scale=100,
                               unit='points') in text
  head = report.headline(runner.to_json({'config': {'pool_seed': 0},
                                         'datasets': {'toy': result}}))
  assert f': {outcome})' in head and f': {cure_outcome})' in head
  assert f'[{100 * c.low:+.1f}, {100 * c.high:+.1f}]' in head
  assert f'{100 * g.last.optimism_mean:.2f} points' in head


def test_without_test_examples_the_growth_is_over_picks_alone():
  """A summary that kept no per-example test errors: one value per pick."""
  rng = np.random.default_rng(0)
  true = rng.uniform(0.2, 0.4, 64)
  select = true + rng.normal(0, 0.05, 64)
  test_PN = _errors(rng, true)
  result = _result(select, select, test_PN, (1, 8), keep_examples=False)
  c = report.growth(result, seed=0)
  assert c.examples == 0 and c.seeds == (8, 64)
  test = test_PN.mean(1)
  picks = report.independent_picks(select, 8, 0)
  expected = stats.compare(test[picks] - select[picks], test - select,
                           higher_is_better=True)
  assert c == expected and c.verdict == 'supported'


def _carved_pool(rng, candidates=64, n=100, pick_noise=0.0):
  """Candidates' 0/1 errors on 2n validation examples carved at random
  into select and holdout halves, and on a test split. Examples differ in
  difficulty (shared by every candidate), so the halves differ by chance,
  the same way for all candidates. `pick_noise`: each candidate's select
  half gets an extra error rate of N(0, pick_noise) (its luck), which
  picking on select then finds."""
  skill = rng.normal(0, 0.5, candidates)[:, None]
  def split(size):
    hard = rng.normal(0, 1.0, size)[None, :]
    return (rng.random((candidates, size))
            < 1 / (1 + np.exp(-(hard - 1 + skill)))).astype(np.float64)
  valid = split(2 * n)
  order = rng.permutation(2 * n)
  select, holdout = valid[:, order[:n]], valid[:, order[n:]]
  luck = np.clip(rng.normal(0, pick_noise, (candidates, 1)), -0.2, 0.2)
  select = np.clip(select + (rng.random(select.shape) < np.abs(luck))
                   * np.sign(luck), 0, 1)
  return _result(None, None, split(200), (1, 8), select_PN=select,
                 holdout_PN=holdout)


def test_holdout_minus_select_pairs_the_halves_example_by_example():
  rng = np.random.default_rng(3)
  result = _carved_pool(rng, candidates=16, n=50)
  hold = runner.decode_examples(result.holdout_examples)
  select = runner.decode_examples(result.select_examples)
  picks = report.independent_picks(result.candidates['select'], 4, seed=5)
  scores = report.pick_scores(result, 4, 5, 'holdout_val_optimism')
  np.testing.assert_array_equal(
      scores, hold[picks][:, report.pairing(50)] - select[picks])
  # Paired at random, not by position: a permutation, and not the identity.
  assert sorted(report.pairing(50)) == list(range(50))
  assert (report.pairing(50) != np.arange(50)).any()
  # Its mean is the picks' holdout − select, the table's quantity.
  c = report.level(result, 4, 5)
  assert c.difference == pytest.approx(np.mean(
      np.asarray(result.candidates['holdout'])[picks]
      - np.asarray(result.candidates['select'])[picks]))
  assert c.seeds == (4, 1) and c.examples == 50
  # Halves of unequal size cannot be paired: the picks alone.
  uneven = dataclasses.replace(result, holdout_examples=runner.encode_examples(
      hold[:, :-1]))
  assert report.pick_scores(uneven, 4, 5, 'holdout_val_optimism').shape == (4,)


def test_the_holdout_minus_select_interval_covers_the_carve():
  """With nothing picked (K=1) holdout − select is 0 in expectation, but one
  carve makes one half harder for every candidate at once: an interval over
  the candidates alone would miss 0 far more often than 5% of the time.
  Over 300 carves the level's 95% interval covers 0 in 93-97.5% of them
  (the binomial's ±2.5 standard deviations), and the candidates-only
  interval does not."""
  rng = np.random.default_rng(0)
  covered = covered_by_picks = 0
  trials = 300
  for _ in range(trials):
    result = _carved_pool(rng)
    c = report.level(result, 1, 0)
    covered += c.low <= 0 <= c.high
    per_pick = np.asarray(result.candidates['holdout']) - np.asarray(
        result.candidates['select'])
    p = stats.compare(per_pick, [0.0], fixed_b=True, higher_is_better=True)
    covered_by_picks += p.low <= 0 <= p.high
  assert 0.93 <= covered / trials <= 0.975, covered
  assert covered_by_picks / trials < 0.8, covered_by_picks


def test_picking_on_a_lucky_select_half_is_optimistic_on_holdout():
  rng = np.random.default_rng(1)
  result = _carved_pool(rng, candidates=256, n=300, pick_noise=0.08)
  g = report.growth_of(result, 0)
  assert g.levels[-1].verdict == 'supported'        # K=8: optimistic.
  assert g.split.verdict == 'supported'             # And more than K=1.
  assert g.levels[-1].difference > g.levels[0].difference
  assert 'holdout − select' in report.levels_table(result, g)


def test_the_growth_verdict_with_one_group_decides_nothing():
  rng = np.random.default_rng(0)
  val = rng.uniform(0.2, 0.4, 8)
  result = _result(val, val, _errors(rng, val + 0.5 * (val - 0.2) + 0.01),
                   (1, 8))
  assert len(report.independent_picks(val, 8, 0)) == 1
  c = report.growth(result, 0)
  assert c.verdict == 'inconclusive' and c.seeds == (1, 8)
  assert not np.isfinite(c.low)


def test_a_pool_where_nothing_finished_has_no_verdict():
  result = report.Pool(
      rows=(), sigma=float('nan'), pool=0,
      candidates={'select': [], 'holdout': [], 'test': []}, diverged=8,
      split_sizes={}, pool_val_error=(float('nan'), 0.0),
      pool_test_error=(float('nan'), 0.0), best_test_in_pool=float('nan'))
  assert report.growth_of(result, 0) is None
  assert 'no candidate finished' in report.verdict('toy', result, 0)
  summary = runner.to_json({'config': {'pool_seed': 0},
                            'datasets': {'toy': result}})
  assert report.headline(summary) == 'toy: no candidate finished.'


def test_pools_survive_results_json():
  rng = np.random.default_rng(0)
  val = rng.uniform(0.2, 0.4, 16)
  test_PN = _errors(rng, val + 0.02)
  result = _result(val, val + 0.01, test_PN, (1, 4))
  summary = runner.to_json({'datasets': {'toy': result}})
  assert report.pools_of(summary) == {'toy': result}
  np.testing.assert_array_equal(runner.decode_examples(
      report.pools_of(summary)['toy'].test_examples), test_PN)
  assert [r['k'] for r in summary['datasets']['toy']['rows']] == [1, 4]
  assert report.results_table(result.rows).count('\n') == 3   # Header, rule, 2 rows.


def test_the_anchor_states_the_order_statistics_it_cites():
  """The anchor cites no table, only σ√(2 ln K): the prediction the report
  draws (σ·E[max of K]) stays below it and approaches it as K grows."""
  assert 'σ√(2 ln K)' in report.ANCHOR
  ratio = [selection.expected_max_normal(k) / np.sqrt(2 * np.log(k))
           for k in (2, 16, 256, 4096)]
  assert ratio == sorted(ratio) and 0.45 < ratio[0] and ratio[-1] < 1
