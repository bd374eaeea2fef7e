"""The main job: its grid, the study end to end, its verdicts on hand-made
rows, and every bad input the launcher must refuse."""

import dataclasses
import json
import os

import numpy as np
import pytest
from conftest import (ReadTracker, launch, refused, tensorboard_logdir,
                      unread_fields)

from deepvsshallow import data, params, reference, runner, selection, train
from deepvsshallow.errors import UsageError
from deepvsshallow.studies import deep_vs_shallow
from deepvsshallow.studies.deep_vs_shallow import experiment, report

dvs_config = deep_vs_shallow.config


def _tiny_config(**overrides):
  c = dvs_config.get_config('digits,runlocal')
  c.depths, c.budgets, c.num_epochs = (1, 2), (), 1
  # The extras add programs to compile; the tests that need them say so.
  c.linear_baseline = c.mimic = False
  c.inits = ('zero_bias',)
  c.update(overrides)
  return c


def test_grid_has_deep_matched_and_budget_nets():
  c = dvs_config.get_config('')
  grid = experiment.build_grid(c, 64, 10)
  by_name = {a.name: a for a in grid}
  for depth in c.depths:
    assert f'{depth}x{c.width}' in by_name
  for a in grid:
    assert a.param_count == params.mlp_param_count(64, a.hidden_widths, 10)
    for role in a.roles:
      assert role.kind in ('deep', 'matched', 'budget')
      if role.kind == 'matched':
        deep = by_name[role.matched_to]
        assert a.depth == 1 and abs(a.param_count - deep.param_count) <= 75
        assert role.target == deep.param_count and role.budget is None
        assert a.is_matched_to(deep.name) and deep.is_deep
      if role.kind == 'budget':
        assert a.param_count <= role.budget and role.matched_to is None
      if role.kind == 'deep':
        assert role.target is None and a.hidden_widths == (c.width,) * a.depth
  assert len(grid) == len({a.hidden_widths for a in grid})  # Merged.
  # Every deep net of depth > 1 has exactly one matched net.
  for depth in c.depths[1:]:
    assert sum(a.is_matched_to(f'{depth}x{c.width}') for a in grid) == 1


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
  monkeypatch.setattr(data, 'load_dataset', lambda *a, **k: (
      dataclasses.replace(digits, _read_test=lambda: events.append('test')
                          or digits.test())))
  real = train.run_program      # What the runner trains every population with.
  monkeypatch.setattr(train, 'run_program',
                      lambda *a, **k: events.append('train') or real(*a, **k))
  config = ReadTracker(_tiny_config(linear_baseline=True, mimic=True,
                                    depths=(2,), inits=('zero_bias', 'torch')))
  summary = deep_vs_shallow.train_and_evaluate(config, str(tmp_path / 'w'))
  # Every architecture, the logistic-regression baseline and the mimicking
  # students, then test.
  assert report.baseline_of(summary).scores.done
  assert len(summary['mimic']) == 1   # 2x32's matched net.
  # The grid, the baseline and the mimic, each extended while its pick sat
  # on an end, and the pair again under the torch init: all before test.
  assert events[-1] == 'test' and events.count('test') == 1
  assert len(events) - 1 >= len(summary['architectures']) + 2 + 2
  assert set(summary['other_inits']) == {'torch'}
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
  for row in report.rows_of(summary):
    assert row.scores.done and row.scores.learning_rate == 0.1
    assert row.scores.num_diverged == c.num_seeds


def test_weights_only_matching_runs_and_reports_mismatch(tmp_path, tfds_dir):
  """Seide's convention: match weights only; models still have biases."""
  c = _tiny_config(count_biases=False, depths=(1, 3))
  summary = deep_vs_shallow.train_and_evaluate(c, str(tmp_path))
  rows = {r.architecture: r for r in report.rows_of(summary)}
  deep = rows['3x32']
  shallow = next(r for r in rows.values() if r.is_matched_to('3x32'))
  target = params.mlp_param_count(64, [32] * 3, 10, biases=False)
  [m] = shallow.roles
  assert (m.kind, m.matched_to, m.target) == ('matched', '3x32', target)
  assert m.relative_mismatch == pytest.approx(
      (params.mlp_param_count(64, shallow.hidden_widths, 10, biases=False)
       - target) / target)
  assert deep.param_count == params.mlp_param_count(64, [32] * 3, 10)
  assert 'matched:3x32 (' in (tmp_path / 'results.md').read_text()
  # One comparison per deep net with a matched net, on its seeds.
  pairs = report.depth_pairs(list(rows.values()))
  assert [(d.architecture, s.architecture) for d, s, _ in pairs] == [
      ('3x32', shallow.architecture)]
  assert pairs[0][2].difference == pytest.approx(
      deep.scores.test_mean - shallow.scores.test_mean)


@pytest.mark.slow
def test_runlocal_end_to_end(runlocal):
  run = runlocal('deep_vs_shallow')
  workdir, output = run.workdir, run.output
  assert '| L x N |' in output and str(workdir) in output
  assert sorted(os.listdir(workdir)) == [
      'config.json', 'populations', 'results.json', 'results.md',
      'results.png', 'tensorboard', 'trials.jsonl']
  assert not unread_fields(run, 'deep_vs_shallow')
  summary = json.loads((workdir / 'results.json').read_text())
  config = dvs_config.get_config('runlocal')
  assert summary['dataset']['name'] == 'mnist1d'   # The default.
  assert summary['dataset']['input_dim'] == 40
  rows = report.rows_of(summary)
  grid = experiment.build_grid(config, 40, 10)
  assert len(rows) == len(grid)
  # The rows keep the grid's typed roles through results.json.
  assert [(r.architecture, r.roles) for r in rows] == [
      (a.name, a.roles) for a in grid]
  for r in rows:
    assert r.scores.done and 0 <= r.scores.test_mean <= 1
    assert len(r.scores.test_per_seed) == config.num_seeds
    np.testing.assert_allclose(np.mean(r.scores.test_per_seed),
                               r.scores.test_mean)
    # The config's grid, extended while the pick sat on an end.
    assert r.scores.num_candidates == len(r.scores.grid) >= len(
        config.learning_rates)
    assert set(config.learning_rates) <= set(r.scores.grid)
    assert r.val_minus_test == pytest.approx(
        r.scores.val_mean - r.scores.test_mean)
  base = report.baseline_of(summary)
  assert base.scores.done and base.param_count == 40 * 10 + 10
  assert 'Logistic regression (410 parameters)' in output
  mimics = report.mimics_of(summary)   # One per deep net with a matched net.
  assert [m.teacher for m in mimics] == ['2x32']
  assert all(m.scores.done and 0 <= m.scores.test_mean <= 1
             and len(m.scores.test_per_seed) == config.num_seeds
             and len(m.agreement_per_seed) == config.num_seeds
             for m in mimics)
  overall = report.overall_pick_of(summary)
  # The pick is one of the rows, with that row's numbers, and no row is
  # lower on validation (overall_pick itself: on hand-made rows below).
  picked = next(r for r in rows if r.architecture == overall.architecture)
  assert overall.val_error_mean == pytest.approx(picked.scores.val_mean)
  assert overall.test_error_mean == pytest.approx(picked.scores.test_mean)
  assert all(r.scores.val_mean >= overall.val_error_mean for r in rows)
  assert overall.num_candidates == sum(len(r.scores.grid) for r in rows)
  # The stored rows render the same report the run wrote.
  assert report.render_markdown(summary) == (workdir / 'results.md').read_text()
  # One trial per seed and learning rate of each final grid: the rows, the
  # baseline, the students and the pairs again under the torch init.
  trained = rows + [base] + mimics + report.other_inits_of(summary)['torch']
  with open(workdir / 'trials.jsonl') as f:
    assert len(f.readlines()) == sum(
        config.num_seeds * len(x.scores.grid) for x in trained)
  with open(workdir / 'results.png', 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'
  md = (workdir / 'results.md').read_text()
  assert 'Seide et al. 2011' in md and '17.2' in md  # The reference table.
  assert 'matmul precision default (float32 matmuls in float32).' in md
  # One verdict line per deep net with a matched net, and one per mimic.
  claim = report.depth_claim(rows)
  assert len(claim.pairs) == 1 and claim.pairs[0][:2] == ('2x32', '1x53')
  assert claim.supported + claim.contradicted + claim.inconclusive == 1
  assert report.verdict(rows).count('\n- ') == 1
  assert report.mimic_verdict(rows, mimics).count('- ') == len(mimics)
  head = deep_vs_shallow.STUDY.headline(summary)
  assert '\n' not in head and f': {claim.verdict}.' in head


@pytest.mark.slow
def test_tensorboards_hparams_view_has_every_populations_columns(runlocal):
  """Populations record different things (the baseline no widths, the
  other init its init, a mimic its teacher and a squared-error metric):
  the HParams dashboard TensorBoard builds from the logdir holds every
  session's hyperparameters and every metric, and each member's session
  holds its depth and width as its widths give them."""
  workdir = runlocal('deep_vs_shallow').workdir
  (hparams, metrics), runs = tensorboard_logdir(workdir / 'tensorboard')
  sessions = [hp for hp, _ in runs.values()]
  assert None not in sessions
  assert hparams == set().union(*sessions)
  assert {'init', 'teacher', 'depth', 'width'} <= hparams
  # Every scalar of a session is a metric column (TensorBoard's rule
  # without an experiment summary): the HParams ones among them.
  assert metrics == set().union(*(set(scalars) for _, scalars in
                                  runs.values()))
  assert {'hparams/best_validation_error', 'hparams/best_validation_mse',
          'hparams/test_error'} <= metrics
  with open(workdir / 'trials.jsonl') as f:
    records = [json.loads(l) for l in f]
  assert len(runs) == len(records)
  for hp in sessions:
    if 'hidden_widths' in hp:
      widths = [int(w) for w in hp['hidden_widths'].split('x')]
      assert (hp['depth'], hp['width']) == (len(widths), max(widths))


# ------------------------------------------------- verdicts on made-up rows


N = 200   # Made-up test examples.


def _errors(errors):
  """(seeds, N) 0/1 errors with each seed's error rate: the first
  rate x N examples wrong, moved along by 7 per seed."""
  out = np.zeros((len(errors), N))
  for s, e in enumerate(errors):
    out[s, :round(e * N)] = 1
    out[s] = np.roll(out[s], 7 * s)
  return out


def _scores(errors, status='done', paired=True):
  if status != 'done':
    return runner.Scores(status=status, metric='error', num_candidates=1,
                         num_diverged=1)
  return runner.Scores(status='done', metric='error', num_candidates=1,
                       learning_rate=1e-3, val_per_seed=tuple(errors),
                       test_per_seed=tuple(errors), test_examples=(
                           runner.encode_examples(_errors(errors))
                           if paired else ''))


def _arch(name, errors, roles=(report.Role('deep'),), status='done'):
  return report.Row(architecture=name, depth=1, hidden_widths=(32,),
                    roles=tuple(roles), param_count=1000,
                    scores=_scores(errors, status))


def _matched(deep):
  return (report.Role('matched', matched_to=deep, target=1000,
                      relative_mismatch=0.0),)


def _mimic(errors, status='done', teacher=0.2):
  done = status == 'done'
  return report.Mimic(architecture='1x53', teacher='2x32', param_count=2713,
                      scores=_scores(errors, status),
                      teacher_test_error=teacher if done else None,
                      teacher_examples=runner.encode_examples(
                          _errors((teacher,))) if done else '',
                      agreement_per_seed=(0.9,) * len(errors or ()))


def _summary(rows, mimics=()):
  return runner.to_json({'architectures': rows, 'mimic': list(mimics)})


LOW, MID, HIGH = (0.20, 0.21, 0.19), (0.25, 0.26, 0.24), (0.30, 0.31, 0.29)
NOISY = (0.20, 0.40, 0.30)


@pytest.mark.parametrize('deep,shallow,outcome,difference', [
    (LOW, HIGH, 'supported', -0.10),
    (HIGH, LOW, 'contradicted', +0.10),
    (NOISY, (0.30, 0.20, 0.40), 'inconclusive', 0.0),
    (LOW, (0.30,), 'inconclusive', -0.10),   # One seed decides nothing.
])
def test_the_depth_verdict_reaches_each_outcome(deep, shallow, outcome,
                                                difference):
  rows = [_arch('2x32', deep), _arch('1x53', shallow, _matched('2x32'))]
  [(d, s, c)] = report.depth_pairs(rows)
  assert (d.architecture, s.architecture) == ('2x32', '1x53')
  assert c.verdict == outcome
  assert c.difference == pytest.approx(difference)
  # One pair: the claim is that pair's verdict, counted once.
  claim = report.depth_claim(rows)
  assert claim.verdict == outcome and claim.tested
  assert (claim.supported, claim.contradicted, claim.inconclusive) == (
      int(outcome == 'supported'), int(outcome == 'contradicted'),
      int(outcome == 'inconclusive'))
  text = report.verdict(rows)
  assert text.endswith(f': {outcome}.')
  assert f'{100 * difference:+.1f}' in text
  # The headline is the claim's line, the verdict section's first.
  head = report.headline(_summary(rows))
  assert text.splitlines()[0] == head and f': {outcome}.' in head


@pytest.mark.parametrize('pairs,claim,counts', [
    # Each pair: (deep, matched shallow) errors per seed.
    ([(LOW, HIGH), (LOW, HIGH)], 'supported', (2, 0, 0)),
    ([(HIGH, LOW), (HIGH, LOW)], 'contradicted', (0, 2, 0)),
    # Some pairs are not the claim: deep nets in general.
    ([(LOW, HIGH), (NOISY, (0.30, 0.20, 0.40))], 'inconclusive', (1, 0, 1)),
    ([(HIGH, LOW), (NOISY, (0.30, 0.20, 0.40))], 'inconclusive', (0, 1, 1)),
    ([(LOW, HIGH), (HIGH, LOW)], 'inconclusive', (1, 1, 0)),
    ([(NOISY, (0.30, 0.20, 0.40)), (LOW, (0.30,))], 'inconclusive',
     (0, 0, 2)),
])
def test_the_depth_claim_counts_each_pair_once(pairs, claim, counts):
  """Supported only when every pair is, contradicted only when every pair
  is; each pair counted once."""
  rows = []
  for depth, (deep, shallow) in enumerate(pairs, start=2):
    rows += [_arch(f'{depth}x32', deep),
             _arch(f'1x{depth}0', shallow, _matched(f'{depth}x32'))]
  got = report.depth_claim(rows)
  assert got.verdict == claim
  assert (got.supported, got.contradicted, got.inconclusive) == counts
  assert [(d, s) for d, s, _ in got.pairs] == [('2x32', '1x20'),
                                              ('3x32', '1x30')]


def test_overall_pick_is_the_lowest_validation_error_ties_to_the_first():
  def arch(name, val, test):
    return dataclasses.replace(_arch(name, val), scores=dataclasses.replace(
        _scores(val), val_per_seed=val, test_per_seed=test,
        num_candidates=2))
  rows = [arch('2x32', (0.5, 0.25), (0.5, 0.5)),
          arch('1x53', (0.25, 0.125), (0.5, 0.375)),     # val 0.1875.
          arch('3x32', (0.1875, 0.1875), (0.25, 0.125)),  # val 0.1875.
          _arch('1x70', None, status='diverged')]
  pick = report.overall_pick(rows)
  assert pick == report.OverallPick(
      architecture='1x53', tied_on_validation=('1x53', '3x32'),
      tied_test_error_range=(0.1875, 0.4375), num_candidates=7,
      val_error_mean=0.1875, test_error_mean=0.4375,
      val_minus_test=-0.25)
  assert report.overall_pick([rows[-1]]) is None


def test_the_depth_verdict_counts_pairs_and_skips_diverged_ones():
  rows = [_arch('2x32', LOW), _arch('1x53', HIGH, _matched('2x32')),
          _arch('3x32', HIGH), _arch('1x70', LOW, _matched('3x32')),
          _arch('4x32', LOW), _arch('1x90', None, _matched('4x32'),
                                    status='diverged'),
          _arch('1x32', MID)]    # Depth 1: no matched net.
  pairs = report.depth_pairs(rows)
  assert [c.verdict for *_, c in pairs] == ['supported', 'contradicted']
  claim = report.depth_claim(rows)
  assert (claim.verdict, claim.supported, claim.contradicted,
          claim.inconclusive) == ('inconclusive', 1, 1, 0)
  assert report.verdict(rows).count('\n- ') == 2
  # Nothing to compare: said so, and the claim is not tested.
  only = [_arch('4x32', LOW), _arch('1x90', None, _matched('4x32'),
                                    status='diverged')]
  assert report.depth_pairs(only) == []
  claim = report.depth_claim(only)
  assert not claim.tested and claim.verdict == 'inconclusive'
  assert (claim.supported, claim.contradicted, claim.inconclusive) == (
      0, 0, 0)
  assert report.verdict(only) == report.headline(_summary(only))
  assert '\n' not in report.verdict(only)


MIMIC_CASES = [
    # The teacher (seed 0's deep net) at 0.20 unless said; gap: deep −
    # shallow; help: mimic − shallow; vs teacher: mimic − teacher.
    (NOISY, (0.30, 0.20, 0.40), LOW, 0.2, 'no_gap', 0.0, -0.10, 0.0),
    (HIGH, LOW, LOW, 0.2, 'no_gap', +0.10, 0.0, 0.0),    # Shallow better.
    (LOW, HIGH, NOISY, 0.2, 'no_help', -0.10, 0.0, +0.10),  # Help unclear.
    (LOW, MID, HIGH, 0.2, 'no_help', -0.05, +0.05, +0.10),  # Mimic worse.
    # Level with its teacher: whether it reached it, the interval can't tell.
    (LOW, HIGH, (0.20, 0.22, 0.18), 0.2, 'unresolved', -0.10, -0.10, 0.0),
    (MID, HIGH, LOW, 0.25, 'surpassed', -0.05, -0.10, -0.05),
    (LOW, HIGH, MID, 0.2, 'narrowed', -0.10, -0.05, +0.05),
]


@pytest.mark.parametrize('deep,shallow,mimic,teacher,outcome,gap,help_,vs',
                         MIMIC_CASES)
def test_the_mimic_verdict_reaches_each_outcome(deep, shallow, mimic, teacher,
                                                outcome, gap, help_, vs):
  rows = [_arch('2x32', deep), _arch('1x53', shallow, _matched('2x32'))]
  mimics = [_mimic(mimic, teacher=teacher)]
  o = report.mimic_outcome(rows[0], rows[1], mimics[0])
  assert o.outcome == outcome
  assert (o.teacher_name, o.student) == ('2x32', '1x53')
  assert o.gap.difference == pytest.approx(gap)
  assert o.help.difference == pytest.approx(help_)
  assert o.teacher.difference == pytest.approx(vs)
  # Paired over the examples; the teacher is one fixed model.
  assert o.gap.examples == N and o.teacher.seeds == (3, 1)
  assert o.gap_size == pytest.approx(-gap)
  assert o.narrowed_by == pytest.approx(-help_)
  [(again, m)] = report.mimic_outcomes(rows, mimics)
  assert again == o and m is mimics[0]
  text = report.mimic_verdict(rows, mimics)
  assert text.startswith('- 1x53 vs 2x32: ') and text.count('\n- ') == 0
  shown = {'no_gap': [gap], 'no_help': [gap, help_],
           'unresolved': [help_, vs], 'surpassed': [help_, vs],
           'narrowed': [help_, vs]}[outcome]
  for difference in shown:
    assert f'{100 * difference:+.1f} [' in text


def test_every_mimic_outcome_is_exercised():
  assert {case[4] for case in MIMIC_CASES} == set(report.MIMIC_OUTCOMES)


def test_the_mimic_verdict_skips_what_did_not_train():
  arch = [_arch('2x32', LOW), _arch('1x53', HIGH, _matched('2x32'))]
  assert report.mimic_verdict(arch, [_mimic(None, 'diverged')]) == ''
  arch[1] = _arch('1x53', None, _matched('2x32'), status='diverged')
  assert report.mimic_verdict(arch, [_mimic(LOW)]) == ''
  assert report.mimic_verdict(arch, []) == ''
  # The table still lists a diverged student.
  assert 'diverged' in report.mimic_table(arch, [_mimic(None, 'diverged')])


def test_rows_survive_results_json():
  """A row, a mimic, the baseline and the overall pick, written as
  results.json holds them and read back: equal, roles and all."""
  rows = [_arch('2x32', LOW), _arch('1x53', HIGH, _matched('2x32')),
          _arch('1x70', MID, (report.Role('budget', budget=10_000,
                                          target=10_000,
                                          relative_mismatch=-0.01),))]
  mimics = [_mimic(LOW), _mimic(None, 'diverged')]
  pick = report.overall_pick(rows)
  summary = runner.to_json({'architectures': rows, 'mimic': mimics,
                            'linear_baseline': report.Baseline(410, _scores(
                                HIGH)), 'overall_pick': pick})
  assert report.rows_of(summary) == rows
  assert report.mimics_of(summary) == mimics
  assert report.baseline_of(summary) == report.Baseline(410, _scores(HIGH))
  assert report.overall_pick_of(summary) == pick
  assert [r.label for r in rows[2].roles] == ['budget:10000']
  assert summary['architectures'][1]['roles'][0]['matched_to'] == '2x32'


def test_the_anchor_is_the_published_tables():
  anchor = deep_vs_shallow.STUDY.chapter.anchor
  wer = {(r['layers'], r['units']): r['wer_percent']
         for r in reference.load_csv('seide2011_switchboard.csv')}
  per = {r['model']: r['per_percent']
         for r in reference.load_csv('ba_caruana2014_timit.csv')}
  for value in (wer[('5', '2048')], wer[('1', '3772')], per['SNN-8k'],
                per['DNN 3x2k'], per['SNN-MIMIC-8k'],
                per['ECNN (teacher ensemble)']):
    assert f'{value}%' in anchor
  # Ba & Caruana told right: the mimic is level with the deep net and
  # 21.6 − 18.5 = 3.1 points behind the ensemble it learned from.
  assert '3.1 points behind the teacher' in report.anchor_ba()


# ------------------------------------------------- refusals


BAD_CONFIGS = [
    (dict(dataset='imagenet'), 'dataset'),
    (dict(width=-3), 'width'),
    (dict(depths=()), 'depths'),
    (dict(depths=(1, 0)), 'depths'),
    (dict(budgets=(50,)), 'budgets'),
    (dict(budgets=(60,), depths=(1, 5)), 'budgets'),   # 5x1 has 69.
    (dict(learning_rates=(0.0,)), 'learning_rates'),
    (dict(learning_rates=('fast',)), 'learning_rates'),
    (dict(activation='swish'), 'activation'),
    (dict(mimic=1), 'mimic'),
    (dict(val_fraction=1.5), 'val_fraction'),
    (dict(batch_size=100000), 'batch_size'),
    (dict(split_seed=-1), 'split_seed'),
    (dict(optimizer='lbfgs'), 'optimizer'),
    (dict(members='sometimes'), 'members'),
    (dict(matmul_precision='tf32'), 'matmul_precision'),
    (dict(weight_decay=-1.0), 'weight_decay'),
]


@pytest.mark.parametrize('overrides,field', BAD_CONFIGS,
                         ids=[next(iter(o)) + str(i)
                              for i, (o, _) in enumerate(BAD_CONFIGS)])
def test_bad_config_is_one_usage_line_and_writes_nothing(overrides, field,
                                                         tmp_path):
  config = dvs_config.get_config('')
  if 'mimic' in overrides:   # ConfigDict refuses another type outright.
    config = dvs_config.FIELDS.config(**overrides)
  else:
    config.update(overrides)
  message = refused(deep_vs_shallow.train_and_evaluate, config,
                    tmp_path / 'never_created')
  assert message.startswith(f'config.{field}'), message


def test_the_budget_check_follows_the_matching_convention():
  # MNIST-1D's 5x1 net: 69 parameters with biases, 54 weights.
  config = dvs_config.get_config('')
  config.update(budgets=(60,), depths=(1, 5))
  [line] = dvs_config.FIELDS.problems(config)
  assert line.startswith('config.budgets') and '(69 ' in line
  config.count_biases = False
  assert dvs_config.FIELDS.problems(config) == []


@pytest.mark.parametrize('generator', [dict(num_samples=20), dict(seed=-1)])
def test_bad_generator_is_one_usage_line_and_writes_nothing(generator,
                                                            tmp_path):
  config = dvs_config.get_config('mnist1d')
  config.generator.update(generator)
  message = refused(deep_vs_shallow.train_and_evaluate, config,
                    tmp_path / 'never_created')
  assert message.startswith(f'config.generator.{next(iter(generator))}')


def test_batch_check_follows_the_generator_size(tmp_path):
  config = dvs_config.get_config('mnist1d')
  config.generator.num_samples = 100     # 80 train, 68 after validation.
  config.batch_size = 70
  message = refused(deep_vs_shallow.train_and_evaluate, config,
                    tmp_path / 'never')
  assert message.startswith('config.batch_size') and ' 68 ' in message


def test_every_problem_is_reported_in_one_pass(tmp_path):
  config = dvs_config.get_config('')
  config.update(width=-3, val_fraction=2.0, optimizer='lbfgs')
  with pytest.raises(UsageError) as e:
    deep_vs_shallow.train_and_evaluate(config, str(tmp_path / 'never'))
  lines = str(e.value).splitlines()
  assert sorted(l.split()[0] for l in lines) == [
      'config.optimizer', 'config.val_fraction', 'config.width']


def test_unknown_config_argument_names_the_choices():
  with pytest.raises(ValueError, match='imagenet'):
    dvs_config.get_config('imagenet')


LAUNCHER_BAD_INPUTS = [
    # Flag parsing, before any config exists.
    (['--config.nonexistent_field=1'], ['nonexistent_field']),
    (['--config.width=abc'], ['abc']),
    (['stray_argument'], ['stray_argument']),
    (['--config.generator.seed=0.5'], ['--config.generator.seed=0.5']),
    # The validation pass: one line per problem.
    (['--config.width=-3', '--config.val_fraction=1.5'],
     ['config.width', 'config.val_fraction']),
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
  with pytest.raises(UsageError, match='workdir'):
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


@pytest.mark.parametrize('other,agree', [
    ((LOW, HIGH), True), ((HIGH, LOW), False)])
def test_the_headline_says_whether_the_two_inits_agree(other, agree):
  rows = [_arch('2x32', LOW), _arch('1x53', HIGH, _matched('2x32'))]
  again = [_arch('2x32', other[0]), _arch('1x53', other[1], _matched('2x32'))]
  summary = runner.to_json({'architectures': rows, 'mimic': [],
                            'init': 'zero_bias',
                            'other_inits': {'torch': again}})
  claims = report.init_claims(summary)
  assert [c.verdict for c in claims.values()] == (
      ['supported', 'supported'] if agree else ['supported', 'contradicted'])
  head = report.headline(summary)
  assert head.endswith('agree.' if agree else 'disagree.')
  assert report.verdict(rows, report.other_inits_of(summary)).count(
      ', torch init: ') == 1
