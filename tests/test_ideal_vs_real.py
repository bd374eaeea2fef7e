"""Ideal vs real: equal steps on both sets, no test example in the ideal
set's seed, the verdicts on hand-made rows, and the study end to end."""

import dataclasses
import json
import os

import numpy as np
import pytest
from conftest import refused, unread_fields

from deepvsshallow import data, reference, runner, stats, train
from deepvsshallow.studies import ideal_vs_real
from deepvsshallow.studies.ideal_vs_real import experiment, report

ivr_config = ideal_vs_real.config


def test_passes_over_the_real_set_become_as_many_steps_on_the_ideal_one():
  # Real: 3,400 / 64 = 53 steps a pass, 600 passes = 31,800 steps and a
  # patience of 30 passes = 1,590 steps; ideal: 170,000 / 64 = 2,656 a
  # pass, so 12 passes (31,872 steps) and a patience of 1 pass, raised to
  # the floor of 10.
  assert train.MIN_PATIENCE_PASSES == 10
  real = train.TrainSettings(batch_size=64, num_epochs=600, patience=30)
  ideal = train.in_passes_over(real, 3_400, 170_000)
  assert (ideal.num_epochs, ideal.patience) == (12, 10)
  assert ideal.num_epochs * 2_656 >= 31_800 > (ideal.num_epochs - 1) * 2_656
  longer = train.in_passes_over(real, 3_400, 3_400 // 2)   # 26 steps a pass.
  assert (longer.num_epochs, longer.patience) == (1224, 62)
  assert train.in_passes_over(real, 3_400, 3_400) == real
  assert train.in_passes_over(dataclasses.replace(real, patience=0), 3_400,
                              170_000).patience == 0


def test_architectures_pair_each_deep_net_with_its_match():
  c = ivr_config.get_config('')
  grid = experiment.architectures(c, 40, 10)
  assert [f for f, *_ in grid] == ['deep', 'shallow'] * len(c.deep_widths)
  assert grid[0] == ('deep', (16, 16, 16), None)
  # Each shallow net names its deep net (not its place in the list).
  assert [m for f, _, m in grid if f == 'shallow'] == [
      f'{w}x{w}x{w}' for w in c.deep_widths]


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
  # (grid_extensions is read through config.get, which ReadTracker misses.)
  assert not unread_fields(run, 'ideal_vs_real') - {'grid_extensions'}
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
  # Each shallow row names its deep net, and they pair by that name.
  assert {r.matched_to for r in rows if r.family == 'shallow'} == {
      f'{w}x{w}x{w}' for w in config.deep_widths}
  assert all(r.matched_to is None for r in rows if r.family == 'deep')
  o = report.outcome(rows)
  assert [(p.deep, p.shallow) for p in o.pairs] == [
      (r.matched_to, r.name) for r in rows
      if r.family == 'shallow' and r.data == 'ideal']
  # One deep-vs-shallow line (one width: no trend in size to judge).
  assert o.trends == () and report.verdict(rows).count('- ') == 1
  # Test losses per seed and per test example, on the same test examples
  # as the errors; one seed a side: no interval.
  # The pick minimised validation loss, and its test loss is the same
  # number the per-example losses give.
  for r in rows:
    losses = runner.decode_examples(r.test_losses)
    assert losses.shape == (config.num_seeds,
                            config.generator.num_samples // 5)   # 20% test.
    assert r.scores.metric == 'loss'
    np.testing.assert_allclose(losses.mean(1), r.test_loss_per_seed,
                               rtol=1e-5)
    np.testing.assert_allclose(r.scores.test_per_seed, r.test_loss_per_seed,
                               rtol=1e-5)
    assert len(r.test_error_per_seed) == config.num_seeds
    c = r.convergence
    assert len(c.kept_epochs) == len(c.ran_epochs) == config.num_seeds
    assert all(0 <= e < ran <= r.num_epochs
               for e, ran in zip(c.kept_epochs, c.ran_epochs))
  assert all(p.comparison.verdict == 'inconclusive' for p in o.pairs)
  head = ideal_vs_real.STUDY.headline(summary)
  assert '\n' not in head and o.depth_verdict in head


# ------------------------------------------------- verdicts on made-up rows

N = 40    # Test examples of the made-up rows.
# Each example's offset from its seed's mean, the same in every row (an
# example hard for one net is hard for all): it cancels when paired.
HARDNESS = np.linspace(-0.5, 0.5, N)


def _row(family, width, data_, losses, params, status='done',
         matched_to=None, examples=True, on_edge=False):
  """A row whose seeds' mean test losses are `losses` (each seed's losses
  on the N test examples: its mean plus HARDNESS); `examples=False`: only
  the per-seed values (a results.json from before they were kept)."""
  done = status == 'done'
  widths = (width,) * (3 if family == 'deep' else 1)
  per_example = np.add.outer(losses, HARDNESS) if done else None
  return report.Row(
      data=data_, family=family, hidden_widths=widths, param_count=params,
      train_examples=3400, num_epochs=1,
      scores=runner.Scores(status=status, metric='error', num_candidates=2,
                           learning_rate=1e-2 if done else None,
                           test_per_seed=(0.3,) * len(losses) if done
                           else (), grid=(3e-3, 1e-2), on_edge=on_edge),
      test_loss_per_seed=tuple(losses) if done else (),
      test_error_per_seed=(0.3,) * len(losses) if done else (),
      matched_to=matched_to,
      test_losses=runner.encode_examples(per_example)
      if done and examples else '')


def _pair(family, width, params, real, ideal, matched_to=None, **kw):
  return [_row(family, width, 'real', real, params, matched_to=matched_to,
               **kw),
          _row(family, width, 'ideal', ideal, params, matched_to=matched_to,
               **kw)]


def _gap(gap):
  """(real, ideal) seed losses whose real − ideal gap is `gap` on average
  (gap, gap + 0.1, gap - 0.1 per seed)."""
  return (gap + 1.0, gap + 1.2, gap + 0.8), (1.0, 1.1, 0.9)


def test_the_anchor_is_greydanus_table():
  paper = {r['dataset']: r for r in reference.load_csv(
      'mnist1d2020_models.csv')}['mnist1d']
  assert (paper['logistic'], paper['mlp'], paper['cnn']) == ('32', '68',
                                                             '94')
  a = report.anchor()
  assert (f'logistic {paper["logistic"]}%, MLP {paper["mlp"]}%, CNN '
          f'{paper["cnn"]}%') in a
  assert ideal_vs_real.STUDY.chapter.anchor == a


def _comparison(verdict, low, high):
  return stats.Comparison((low + high) / 2, low, high, verdict, (3, 3))


@pytest.mark.parametrize('verdicts,key', [
    ((('supported', 0.1, 0.5), ('supported', 0.02, 0.3)), 1),  # Weakest.
    ((('supported', -0.9, -0.5), ('supported', -0.4, -0.01)), 1),
    ((('supported', 0.1, 0.5), ('inconclusive', -0.1, 0.2),
      ('inconclusive', -0.2, 0.2)), 1),
    ((('inconclusive', -0.1, 0.2), ('supported', 0.1, 0.5),
      ('contradicted', -0.5, -0.1)), 2),
    ((), None),
])
def test_a_claim_at_every_step_is_decided_by_its_weakest(verdicts, key):
  cs = [_comparison(*v) for v in verdicts]
  assert stats.deciding(cs) == key
  if cs:    # Its verdict: contradicted if any is, supported if all are.
    expected = ('contradicted' if any(c.verdict == 'contradicted'
                                      for c in cs) else
                'supported' if all(c.verdict == 'supported' for c in cs)
                else 'inconclusive')
    assert cs[key].verdict == expected


@pytest.mark.parametrize('small,large,outcome', [
    (0.2, 1.5, 'supported'),
    (1.5, 0.2, 'contradicted'),
    (0.2, 0.25, 'inconclusive'),
])
def test_the_gap_verdict_reaches_each_outcome(small, large, outcome):
  rows = (_pair('shallow', 10, 500, *_gap(small))
          + _pair('shallow', 40, 2000, *_gap(large)))
  pairs = report._pairs(rows)
  c = report.gap_grows(pairs[('shallow', (10,))], pairs[('shallow', (40,))])
  assert c.verdict == outcome
  assert c.difference == pytest.approx(large - small)
  assert c.low < c.difference < c.high
  assert (c.seeds, c.examples) == ((3, 3), N)     # Paired over examples.
  [trend] = report.outcome(rows).trends
  assert (trend.family, trend.sizes, trend.verdict) == ('shallow',
                                                       (500, 2000), outcome)
  assert trend.gaps == pytest.approx((small, large))
  assert trend.steps == (c,) and trend.key == 0
  [line] = report.verdict(rows).splitlines()
  assert f'{c.difference:+.3f} [{c.low:+.3f}, {c.high:+.3f}]' in line
  head = report.headline(runner.to_json({'rows': rows}))
  assert '\n' not in head and f'{c.low:+.3f}' in head and outcome in head


@pytest.mark.parametrize('gaps,claim,key', [
    ((0.2, 1.5, 2.5), 'supported', 1),      # The smaller step decides.
    ((0.2, 1.5, 1.5), 'inconclusive', 1),   # Flat at the last step.
    ((0.2, 1.5, 0.2), 'contradicted', 1),   # Growth, then a fall.
    ((1.5, 0.2, 0.2), 'contradicted', 0),
])
def test_the_gap_claim_holds_only_at_every_step(gaps, claim, key):
  rows = []
  for width, gap in zip((10, 40, 160), gaps):
    rows += _pair('shallow', width, 50 * width, *_gap(gap))
  [trend] = report.outcome(rows).trends
  assert (trend.verdict, trend.key) == (claim, key)
  assert [c.difference for c in trend.steps] == pytest.approx(
      np.diff(gaps), abs=1e-6)     # float32 per-example losses.
  assert trend.gaps == pytest.approx(gaps)


@pytest.mark.parametrize('deep,shallow,outcome,difference', [
    ((0.5, 0.6, 0.4), (0.9, 1.0, 0.8), 'supported', -0.4),
    ((0.9, 1.0, 0.8), (0.5, 0.6, 0.4), 'contradicted', +0.4),
    ((0.5, 1.0, 0.7), (0.9, 0.4, 0.6), 'inconclusive', +0.1),
    ((0.5,), (0.9,), 'inconclusive', -0.4),  # One seed: no interval.
])
def test_the_ideal_depth_verdict_reaches_each_outcome(deep, shallow, outcome,
                                                      difference):
  rows = (_pair('deep', 8, 562, (2.0,) * len(deep), deep)
          + _pair('shallow', 11, 571, (2.0,) * len(shallow), shallow,
                  matched_to='8x8x8'))
  c = report.deep_reaches_lower(rows[1], rows[3])
  assert c.verdict == outcome
  assert c.difference == pytest.approx(difference)
  assert c.examples == N
  assert np.isfinite(c.low) == (len(deep) > 1)
  o = report.outcome(rows)
  assert o.pairs == (report.MatchedPair('8x8x8', '11', 562, 571, c),)
  assert (o.depth_verdict, o.depth_key) == (outcome, 0)
  assert o.lowest == {'deep': (562, pytest.approx(np.mean(deep))),
                      'shallow': (571, pytest.approx(np.mean(shallow)))}
  [line] = report.verdict(rows).splitlines()
  assert f'562 vs 571 params: deep − shallow = {difference:+.3f}' in line
  head = report.headline(runner.to_json({'rows': rows}))
  assert '\n' not in head and outcome in head
  assert f'deep − shallow = {difference:+.3f}' in head


def test_the_depth_claim_at_every_size_and_its_edge_notes():
  """Deep lower at the small size, higher at the large one: contradicted,
  decided by the large pair; a pick on an end of its grid is noted beside
  its pair, in the verdict lines and the headline."""
  lower, higher = (0.5, 0.6, 0.4), (0.9, 1.0, 0.8)
  rows = (_pair('deep', 8, 562, (2.0,) * 3, lower)
          + _pair('shallow', 11, 571, (2.0,) * 3, higher,
                  matched_to='8x8x8')
          + _pair('deep', 32, 5000, (2.0,) * 3, higher, on_edge=True)
          + _pair('shallow', 100, 4990, (2.0,) * 3, lower,
                  matched_to='32x32x32'))
  o = report.outcome(rows)
  assert [p.comparison.verdict for p in o.pairs] == ['supported',
                                                     'contradicted']
  assert (o.depth_verdict, o.depth_key) == ('contradicted', 1)
  note = runner.edge_note(**{'ideal deep 32x32x32': rows[5].scores})
  assert note and [p.note for p in o.pairs] == ['', note]
  assert note in report.verdict(rows)
  head = report.headline(runner.to_json({'rows': rows}))
  assert note in head and '+0.400' in head
  # The deep family's gap steps note both deep picks at the large size.
  [deep_trend, _] = report.outcome(rows).trends
  assert deep_trend.notes == (runner.edge_note(**{
      'real deep 32x32x32': rows[4].scores,
      'ideal deep 32x32x32': rows[5].scores}),)


def test_rows_without_per_example_losses_are_compared_on_seeds_only():
  deep, shallow = (0.5, 0.6, 0.4), (0.9, 1.0, 0.8)
  rows = (_pair('deep', 8, 562, (2.0,) * 3, deep, examples=False)
          + _pair('shallow', 11, 571, (2.0,) * 3, shallow,
                  matched_to='8x8x8'))
  c = report.deep_reaches_lower(rows[1], rows[3])
  expected = stats.compare(deep, shallow, higher_is_better=False)
  assert c == expected and c.examples == 0
  assert c.verdict == 'supported'


@pytest.mark.parametrize('diverged', ['deep', 'shallow'])
def test_a_diverged_middle_size_drops_its_own_pair_only(diverged):
  """Three deep sizes, each with its matched shallow net; the middle size's
  deep (or shallow) net diverges on the ideal set. The others still pair
  with their own match: 562 with 571 and 5,000 with 4,990, never 562 with
  1,490."""
  good = ((0.5, 0.6, 0.4), (0.9, 1.0, 0.8))
  rows = []
  for deep_w, shallow_w, deep_n, shallow_n in ((8, 11, 562, 571),
                                               (16, 30, 1500, 1490),
                                               (32, 100, 5000, 4990)):
    rows += _pair('deep', deep_w, deep_n, (2.0,) * 3, good[0])
    rows += _pair('shallow', shallow_w, shallow_n, (2.0,) * 3, good[1],
                  matched_to=f'{deep_w}x{deep_w}x{deep_w}')
  # Rows per size: deep real, deep ideal, shallow real, shallow ideal.
  middle = 4 + (1 if diverged == 'deep' else 3)
  r = rows[middle]
  rows[middle] = _row(r.family, r.hidden_widths[0], 'ideal', (), 0,
                      status='diverged', matched_to=r.matched_to)
  o = report.outcome(rows)
  assert [(p.deep, p.shallow, p.deep_params, p.shallow_params)
          for p in o.pairs] == [('8x8x8', '11', 562, 571),
                                ('32x32x32', '100', 5000, 4990)]
  assert [p.comparison.difference for p in o.pairs] == pytest.approx(
      [-0.4, -0.4])
  assert o.depth_verdict == 'supported'
  text = report.verdict(rows)
  assert '562 vs 571 params' in text and '5,000 vs 4,990 params' in text
  assert '1,490' not in text.split('test loss, ')[1]


def test_the_verdicts_skip_diverged_and_unpaired_rows():
  rows = (_pair('deep', 8, 562, (2.0, 2.1), (1.0, 1.1))
          + [_row('deep', 16, 'real', (2.0, 2.1), 1500),
             _row('deep', 16, 'ideal', (), 1500, status='diverged')])
  assert list(report._pairs(rows)) == [('deep', (8, 8, 8))]
  assert report.verdict(rows) == ''    # No shallow net, one deep size.
  assert report.outcome(rows).pairs == ()
  assert report.results_table(rows).count('\n| deep |') == 1
  assert 'nothing to judge' in report.headline(runner.to_json({'rows': rows}))
  # A shallow net whose deep net is not in the rows pairs with nothing.
  rows += _pair('shallow', 11, 571, (2.0, 2.1), (1.0, 1.1),
                matched_to='64x64x64')
  assert report.outcome(rows).pairs == ()


def test_rows_survive_results_json():
  rows = (_pair('deep', 8, 562, (2.0, 2.1), (1.0, 1.1))
          + _pair('shallow', 11, 571, (2.0, 2.1), (1.0, 1.1),
                  matched_to='8x8x8')
          + [_row('deep', 16, 'ideal', (), 1500, status='diverged')])
  summary = runner.to_json({'rows': rows})
  assert report.rows_of(summary) == rows
  assert summary['rows'][0]['test_loss_per_seed'] == [2.0, 2.1]
  assert summary['rows'][2]['matched_to'] == '8x8x8'
  np.testing.assert_allclose(
      runner.decode_examples(report.rows_of(summary)[0].test_losses),
      np.add.outer((2.0, 2.1), HARDNESS), rtol=1e-6)
  assert rows[0].test_loss_mean == pytest.approx(2.05)
  # A results.json from before matched_to and test_losses: read back with
  # None and ''.
  del summary['rows'][2]['matched_to'], summary['rows'][2]['test_losses']
  back = report.rows_of(summary)[2]
  assert back.matched_to is None and back.test_losses == ''
