"""The expressivity study (lab part 1): end to end on its :runlocal run, the
verdicts on constructed rows (every outcome), and its bad inputs."""

import dataclasses
import importlib.resources
import json
import os

import numpy as np
import scipy.stats
import pytest
from conftest import launch, refused, unread_fields

from deepvsshallow import regions as regions_lib
from deepvsshallow import runner, stats
from deepvsshallow.studies import expressivity
from deepvsshallow.studies.expressivity import report

expressivity_config = expressivity.config


@pytest.mark.slow
def test_runlocal_end_to_end(runlocal):
  """Every section's table and figure, the constructions at their closed
  forms, and a trial record per candidate."""
  run = runlocal('expressivity')
  workdir = run.workdir
  # (grid_extensions is read through config.get, which ReadTracker misses.)
  assert not unread_fields(run, 'expressivity') - {'grid_extensions'}
  files = sorted(os.listdir(workdir))
  assert files == sorted(['config.json', 'populations', 'results.json',
                          'results.md', 'tensorboard', 'trials.jsonl',
                          'hidden_layer.png', 'sawtooth.png', 'square.png',
                          'regions.png', 'training.png'])
  for name in files:
    if name.endswith('.png'):
      assert (workdir / name).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
  summary = json.loads((workdir / 'results.json').read_text())
  config = expressivity_config.get_config('runlocal')
  s = report.sections_of(summary)
  assert [r.pieces for r in s.sawtooth] == [
      2 ** k for k in range(1, config.sawtooth_max_k + 1)]
  assert [r.deep_error for r in s.square] == [
      2.0 ** (-2 * m - 2) for m in range(1, config.square_max_m + 1)]
  assert all(r.tree.exact and r.bitcount.exact for r in s.parity)
  assert [r.n for r in s.parity] == list(range(2, config.parity_max_n + 1))
  reg = s.regions_at_init
  assert len(reg.nets) == (len(config.region_bias_stds)
                           * len(config.region_neurons)
                           * len(config.region_depths))
  assert all(len(n.regions_per_seed) == config.region_seeds
             for n in reg.nets)
  for n in reg.nets:
    if n.depth == 1:
      # All biases zero: n lines through the origin, exactly 2n cones. Drawn
      # biases of std 1e-3 put nearly every crossing inside [-1, 1]^2: close
      # to the whole arrangement of n lines, 1 + n + C(n, 2) regions.
      if n.bias_std == 0:
        assert n.regions_per_seed == (2 * n.neurons,) * config.region_seeds
      else:
        assert all(0.9 * n.one_layer_max <= r <= n.one_layer_max
                   for r in n.regions_per_seed)
  # Section 7: every 1-D problem at every retry width, each picked seed
  # judged by the rule, recomputed here from its pieces and errors.
  retried = report.retried_of(summary)
  assert len(retried) == (len(config.train_tent_k) + 1) * len(
      config.retry_widths)
  for r in retried:
    assert r.scores.done and len(r.pieces) == config.retry_seeds
    assert len(r.test_max_error) == config.retry_seeds
    depth = len(r.hidden_widths)
    assert all(1 <= n <= regions_lib.max_pieces_1d(r.hidden_widths)
               for n in r.pieces)
    if r.target_pieces is not None:   # Tent map T^k: depth k, 2^k pieces.
      assert r.target_pieces == 2 ** depth
      expected = [n == 2 ** depth and e < config.near_exact_tent
                  for n, e in zip(r.pieces, r.test_max_error)]
    else:                             # x^2: Yarotsky's error 2^(-2m-2).
      assert r.construction_max_error == 2.0 ** (-2 * depth - 2)
      expected = [e < config.near_exact_square * 2.0 ** (-2 * depth - 2)
                  for e in r.test_max_error]
    assert list(r.near_exact) == expected
  rows = report.trained_of(summary)
  num_problems = (len(config.train_tent_k) * len(config.tent_widths) + 1
                  + len(config.train_parity_n))
  assert len(rows) == 2 * num_problems
  assert all(r.done for r in rows)
  for r in rows:
    if r.pieces is not None:   # A trained net cannot exceed its max.
      assert 1 <= min(r.pieces)
      assert max(r.pieces) <= r.max_pieces
    assert len(r.test_judged) == config.num_seeds
    # The pick's test scores are the task's metric among the test metrics.
    assert r.scores.test_per_seed == (r.test.mse if r.regression
                                      else r.test.error)
  with open(workdir / 'trials.jsonl') as f:
    assert len(f.readlines()) == (
        len(rows) * config.num_seeds + len(retried) * config.retry_seeds
    ) * len(config.learning_rates)
  md = (workdir / 'results.md').read_text()
  for heading in ('## 1. Why a hidden layer', '## 2. Depth folds space',
                  '## 3. x²', '## 4. Parity, honestly',
                  '## 5. Counting pieces and regions',
                  '## 6. What training finds',
                  '## 7. What training finds, without the dead units'):
    assert heading in md
  # One outcome and one verdict line per problem, on the console and in
  # the report; the headline counts the same outcomes.
  said = report.training_verdict(rows)
  decided = report.outcomes(rows)
  assert len(decided) == num_problems
  assert said.count('\n- ') + 1 == num_problems
  assert said in run.output and said in md
  headline = report.headline(summary)
  assert headline.startswith('The constructions hold')
  assert all(o.verdict is None for o in decided
             if o.kind != report.COMPARED)
  # Parity is compared paired over its test inputs, a max error on seeds.
  for o in decided:
    if o.kind == report.COMPARED:
      assert o.deep_vs_shallow.examples == (
          0 if o.deep.regression else len(o.deep.scores.test_per_example[0]))
  d = report.deciding(decided)
  if d:
    assert f'{d.verdict} ({d.problem}: {d.describe()})' in headline
  else:
    assert 'no problem was compared' in headline
  # The stored rows render the same report the run wrote.
  assert report.render_markdown(summary) == md


# ------------------------------------------------- verdicts, on built rows

N = 100   # Parity test inputs of the built rows.


def _scores(metric, test, status='done', on_edge=False):
  """Scores with `test` per seed; for parity also each seed's 0/1 error on
  N test inputs: wrong on the first test[s] * N (hard inputs come first
  for every net, as they would)."""
  errors = (np.arange(N)[None] < np.round(np.multiply(test, N))[:, None])
  return runner.Scores(
      status=status, metric=metric, num_candidates=2, learning_rate=1e-2,
      test_per_seed=tuple(test), grid=(3e-3, 1e-2), on_edge=on_edge,
      test_examples=runner.encode_examples(errors)
      if metric == 'error' and status == 'done' else '')


def _parity(kind, errors, problem='parity n=8', on_edge=False):
  return report.Trained(
      problem=problem, kind=kind, hidden_widths=(4, 4, 2),
      param_count=70, construction_widths=(4, 4, 2),
      scores=_scores('error', errors, on_edge=on_edge),
      test=report.Metrics(error=tuple(errors)), construction_test_error=0.0)


def _regression(kind, max_errors, mse, constant=0.08):
  return report.Trained(
      problem='x^2 (m=2)', kind=kind, hidden_widths=(3, 3),
      param_count=19, construction_widths=(3, 3),
      scores=_scores('mse', mse),
      test=report.Metrics(mse=tuple(mse), max_error=tuple(max_errors)),
      constant_test_mse=constant, construction_test_mse=0.0,
      construction_test_max_error=0.0156)


SECTIONS = report.Sections(
    hidden_layer=(),
    sawtooth=(report.Sawtooth(
        k=1, pieces=2, closed_form_pieces=2, deep_params=7, deep_units=2,
        max_error_deep=0.0, shallow_units_lower_bound=1, shallow_units=2,
        shallow_params=7, shallow_pieces=2, max_error_shallow=0.0),),
    square=(report.Square(
        m=1, closed_form_error=0.0625, deep_error=0.0625, deep_params=7,
        deep_layers=1, deep_pieces=2, shallow_units=2, shallow_params=7,
        shallow_error=0.0625),),
    parity=(report.Parity(
        n=2, and_or_terms=2, xnor_gates=1, xnor_depth=1, inputs_checked=4,
        tree=report.ParityNet(layers=1, units=2, params=9, exact=True),
        bitcount=report.ParityNet(layers=1, units=2, params=9,
                                  exact=True)),),
    regions_at_init=report.RegionsAtInit(
        square=(-1.0, 1.0), nets=(
            report.RegionCount(widths=(8,), bias_std=0.1, params=33,
                               neurons=8, regions_per_seed=(20, 22)),
            report.RegionCount(widths=(4, 4), bias_std=0.1, params=37,
                               neurons=8, regions_per_seed=(5, 7)))))


def _summary(rows, sections=SECTIONS):
  """The rows and sections as results.json holds them (read back typed)."""
  summary = runner.to_json({'training': rows, 'sections': sections})
  assert report.trained_of(summary) == rows
  assert report.sections_of(summary) == sections
  return summary


def _claim(rows):
  """The deciding outcome, its verdict in the headline; None: none."""
  d = report.deciding(report.outcomes(rows))
  headline = report.headline(_summary(rows))
  if d is None:
    assert 'no problem was compared' in headline
  else:
    assert f': {d.verdict} ({d.problem}: {d.describe()})' in headline
  return d


def test_the_anchor_is_theory_md():
  theory = (importlib.resources.files('deepvsshallow.reference')
            / 'theory.md').read_text()
  for closed_form in ('exactly\n  2^k linear pieces', '2^(-2m-2) (0.0625',
                      'n-1 gates', '2^(n-1) terms'):
    assert closed_form in theory
  a = report.anchor()
  assert '2^k pieces' in a and '2^(-2m-2) (0.0625 at m = 1)' in a
  assert 'n - 1 XNOR gates' in a and '2^(n-1) AND/OR terms' in a
  assert expressivity.STUDY.chapter.anchor == a


# deep, shallow (each seed's test error or max error), the verdict on "the
# deep net is better", and the difference of the means by hand.
OUTCOMES = [
    ((0.10, 0.11, 0.09), (0.50, 0.49, 0.51), 'supported', -0.40),
    ((0.50, 0.49, 0.51), (0.10, 0.11, 0.09), 'contradicted', +0.40),
    ((0.10, 0.30, 0.20), (0.20, 0.10, 0.30), 'inconclusive', 0.0),
]


@pytest.mark.parametrize('deep,shallow,outcome,difference', OUTCOMES)
def test_deep_vs_shallow_on_parity_reaches_each_outcome(deep, shallow,
                                                         outcome, difference):
  rows = [_parity('deep', deep), _parity('shallow', shallow)]
  [o] = report.outcomes(rows)
  assert o.kind == report.COMPARED and o.verdict == outcome
  c = o.deep_vs_shallow
  assert c.difference == pytest.approx(difference, abs=1e-12)
  assert (c.seeds, c.examples) == ((3, 3), N)     # Paired over the inputs.
  assert c == runner.compare(rows[0].scores, rows[1].scores)
  assert o.deep_vs_constant is None and o.shallow_vs_constant is None
  assert (f'{100 * difference:+.1f} [{100 * c.low:+.1f}, '
          f'{100 * c.high:+.1f}]') in report.training_verdict(rows)
  assert _claim(rows) == o


@pytest.mark.parametrize('deep,shallow,outcome,difference', OUTCOMES)
def test_deep_vs_shallow_on_regression_reaches_each_outcome(
    deep, shallow, outcome, difference):
  # Both nets beat the constant (0.08), so the max errors are compared.
  rows = [_regression('deep', deep, (0.010, 0.011, 0.012)),
          _regression('shallow', shallow, (0.010, 0.011, 0.012))]
  [o] = report.outcomes(rows)
  assert o.kind == report.COMPARED and o.verdict == outcome
  c = o.deep_vs_shallow
  assert c.difference == pytest.approx(difference, abs=1e-12)
  assert c == stats.compare(deep, shallow, higher_is_better=False)
  assert c.examples == 0                           # Seeds only.
  assert o.deep_vs_constant.verdict == o.shallow_vs_constant.verdict == (
      'supported')
  assert o.deep_vs_constant.difference == pytest.approx(0.011 - 0.08)
  assert f'{difference:+.3g} [{c.low:+.3g}, {c.high:+.3g}]' in (
      report.training_verdict(rows))
  assert _claim(rows) == o


@pytest.mark.parametrize('mse,outcome,difference', [
    ((0.010, 0.011, 0.012), 'supported', 0.011 - 0.08),
    ((0.20, 0.21, 0.22), 'contradicted', 0.21 - 0.08),
    ((0.02, 0.14, 0.08), 'inconclusive', 0.0),
    ((0.01,), 'inconclusive', 0.01 - 0.08),        # One seed: no interval.
])
def test_beating_the_constant_reaches_each_outcome(mse, outcome, difference):
  c = report.beats_constant(_regression('deep', (0.5,), mse, constant=0.08))
  assert c.verdict == outcome
  assert c.difference == pytest.approx(difference, abs=1e-12)
  assert np.isfinite(c.low) == (len(mse) > 1)
  if len(mse) > 1:   # The constant is one fixed model: only seeds vary.
    half = (scipy.stats.t.ppf(0.975, len(mse) - 1)
            * np.std(mse, ddof=1) / np.sqrt(len(mse)))
    assert (c.low, c.high) == pytest.approx((difference - half,
                                             difference + half))


@pytest.mark.parametrize('verdicts,claim,decided_by', [
    # Each parity problem's (deep, shallow) by OUTCOMES' index: supported,
    # contradicted, inconclusive.
    ((0, 0), 'supported', 'parity n=8'),    # Equal margins: the first.
    ((0, 2), 'inconclusive', 'parity n=9'),
    ((0, 2, 1), 'contradicted', 'parity n=10'),
    ((1, 0), 'contradicted', 'parity n=8'),
])
def test_the_claim_on_every_problem_needs_every_problem(verdicts, claim,
                                                        decided_by):
  rows = []
  for n, i in zip((8, 9, 10), verdicts):
    deep, shallow = OUTCOMES[i][:2]
    rows += [_parity('deep', deep, f'parity n={n}'),
             _parity('shallow', shallow, f'parity n={n}')]
  d = _claim(rows)
  assert (d.verdict, d.problem) == (claim, decided_by)


def test_every_problem_supported_is_decided_by_the_weakest():
  deep = OUTCOMES[0][0]
  rows = []
  for n, shallow in ((8, (0.50, 0.49, 0.51)), (9, (0.30, 0.31, 0.29)),
                     (10, (0.90, 0.89, 0.91))):
    rows += [_parity('deep', deep, f'parity n={n}'),
             _parity('shallow', shallow, f'parity n={n}')]
  d = _claim(rows)
  assert (d.problem, d.verdict) == ('parity n=9', 'supported')
  assert d.deep_vs_shallow.difference == pytest.approx(-0.20)
  assert report.deciding([]) is None


def test_an_unbracketed_pick_is_noted_beside_its_verdict():
  rows = [_parity('deep', OUTCOMES[0][0], on_edge=True),
          _parity('shallow', OUTCOMES[0][1])]
  [o] = report.outcomes(rows)
  assert o.note and o.note == runner.edge_note(deep=rows[0].scores,
                                               shallow=rows[1].scores)
  assert o.note in report.training_verdict(rows)
  assert o.note in report.headline(_summary(rows))


@pytest.mark.parametrize('shallow_mse,shallow_vs_constant', [
    ((0.15, 0.151), 'contradicted'), ((0.02, 0.14), 'inconclusive')])
def test_neither_net_beating_the_constant_is_not_compared(
    shallow_mse, shallow_vs_constant):
  # The deep net's max error is far below the shallow one's: compared, it
  # would win; but neither net beats the constant, so it is not compared,
  # in the verdict lines and in the headline alike.
  rows = [_regression('deep', (0.10, 0.11), (0.20, 0.21)),
          _regression('shallow', (0.77, 0.78), shallow_mse)]
  assert report.deep_beats_shallow(*rows).verdict == 'supported'
  [o] = report.outcomes(rows)
  assert o.kind == report.NO_SHAPE
  assert o.deep_vs_shallow is None and o.verdict is None
  assert o.deep_vs_constant.verdict == 'contradicted'
  assert o.deep_vs_constant.difference == pytest.approx(0.205 - 0.08)
  assert o.shallow_vs_constant.verdict == shallow_vs_constant
  assert o.shallow_vs_constant.difference == pytest.approx(
      np.mean(shallow_mse) - 0.08)
  line = report.training_verdict(rows)
  assert '+0.125' in line and 'deep − shallow' not in line
  assert _claim(rows) is None
  assert '1 where neither net' in report.headline(_summary(rows))
  # With a parity problem the deep net wins; that one alone decides.
  both = rows + [_parity('deep', OUTCOMES[0][0]),
                 _parity('shallow', OUTCOMES[0][1])]
  assert [o.kind for o in report.outcomes(both)] == [report.NO_SHAPE,
                                                     report.COMPARED]
  d = _claim(both)
  assert (d.problem, d.verdict) == ('parity n=8', 'supported')
  # One net beating the constant is enough to compare the two.
  rows[1] = _regression('shallow', (0.77, 0.78), (0.010, 0.011))
  [o] = report.outcomes(rows)
  assert o.kind == report.COMPARED and o.verdict == 'supported'
  assert o.deep_vs_shallow.difference == pytest.approx(0.105 - 0.775)


def test_a_diverged_population_is_said_and_not_counted():
  diverged = report.Trained(
      problem='parity n=8', kind='shallow', hidden_widths=(10,),
      param_count=101, construction_widths=(4, 4, 2),
      scores=runner.Scores(status='diverged', metric='error',
                           num_candidates=1, num_diverged=3))
  rows = [_parity('deep', (0.1, 0.2)), diverged]
  [o] = report.outcomes(rows)
  assert o.kind == report.DIVERGED and o.verdict is None
  assert o.deep == rows[0] and o.shallow is None
  assert report.training_verdict(rows).count('\n') == 0
  assert _claim(rows) is None
  assert '1 where a population diverged' in report.headline(_summary(rows))


def test_a_failed_construction_is_in_the_headline():
  failed = dataclasses.replace(SECTIONS.square[0], deep_error=0.07)
  headline = report.headline(_summary([], dataclasses.replace(
      SECTIONS, square=(failed,))))
  assert 'FAILED: Yarotsky' in headline and 'no problem was compared' in (
      headline)


# ------------------------------------------------------------ bad inputs

BAD_CONFIGS = [
    (dict(sawtooth_max_k=0), 'sawtooth_max_k'),
    (dict(square_max_m=-1), 'square_max_m'),
    (dict(parity_max_n=17), 'parity_max_n'),
    (dict(parity_max_n=1), 'parity_max_n'),
    (dict(train_parity_n=(1,)), 'train_parity_n'),
    (dict(train_parity_n=(20,)), 'train_parity_n'),
    (dict(train_tent_k=(0,)), 'train_tent_k'),
    (dict(interp_pieces=()), 'interp_pieces'),
    (dict(region_neurons=(4, 0)), 'region_neurons'),
    (dict(region_neurons=(6,), region_depths=(1, 4)), 'region_neurons'),
    (dict(region_bias_stds=(-0.1,)), 'region_bias_stds'),
    (dict(region_seeds=1), 'region_seeds'),
    (dict(batch_size=4096), 'batch_size'),
    (dict(learning_rates=(-1.0,)), 'learning_rates'),
]


@pytest.mark.parametrize('overrides,field', BAD_CONFIGS,
                         ids=[next(iter(o)) + str(i)
                              for i, (o, _) in enumerate(BAD_CONFIGS)])
def test_bad_config_is_one_usage_line_and_writes_nothing(overrides, field,
                                                         tmp_path):
  config = expressivity_config.get_config('')
  config.update(overrides)
  message = refused(expressivity.train_and_evaluate, config,
                    tmp_path / 'never_created')
  assert message.startswith(f'config.{field}')


def test_launcher_bad_input_is_one_line_and_exit_2(tmp_path):
  workdir = tmp_path / 'never_created'
  proc = launch('expressivity', '--config.parity_max_n=17',
                f'--workdir={workdir}', timeout=120)
  lines = [l for l in proc.stderr.splitlines() if l.strip()]
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert len(lines) == 1 and 'config.parity_max_n' in lines[0]
  assert 'Traceback' not in proc.stderr + proc.stdout
  assert not workdir.exists()


def test_unknown_config_argument_is_refused():
  with pytest.raises(ValueError, match='runlocal'):
    expressivity_config.get_config('mnist')
