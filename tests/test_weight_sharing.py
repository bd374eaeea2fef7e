"""Weight sharing: the families' parameter counts (closed form = the
model's own, and the paper's), the GRU against a numpy reference, the
lecture's counts, and the study end to end."""

import dataclasses
import json
import os

import jax.numpy as jnp
import numpy as np
import pytest
from conftest import launch, refused, unread_fields
from flax import nnx

from deepvsshallow import data, models, params, reference, runner, stats, train
from deepvsshallow.studies import weight_sharing
from deepvsshallow.studies.weight_sharing import experiment, report

ws_config = weight_sharing.config


def _count(model) -> int:
  return params.count_params(nnx.state(model, nnx.Param))


def _abstract(fn):
  return nnx.eval_shape(lambda: fn(rngs=nnx.Rngs(0)))


@pytest.mark.parametrize('family,knob,paper', [
    ('logistic', {}, 410), ('mlp', {'width': 100}, 15_210),
    ('cnn', {'channels': 25}, 5_210), ('gru', {'hidden': 6}, 5_134)])
def test_paper_sizes_have_the_papers_counts(family, knob, paper):
  model = experiment.Model(family, 'paper', knob,
                               experiment.count(family, knob))
  assert model.param_count == paper
  assert _count(_abstract(model.build())) == paper


@pytest.mark.parametrize('family', ['mlp', 'cnn', 'gru'])
def test_closed_forms_equal_the_models_at_other_sizes(family):
  key = {'mlp': 'width', 'cnn': 'channels', 'gru': 'hidden'}[family]
  for value in (1, 3, 17):
    model = experiment.Model(family, 'x', {key: value},
                                 experiment.count(family, {key: value}))
    assert _count(_abstract(model.build())) == model.param_count
  assert params.gru_param_count(40, 6, 10, bidirectional=False) == (
      _count(_abstract(lambda rngs: models.GRU(40, 10, bidirectional=False,
                                               rngs=rngs))))


def test_budget_sizes_are_nearest_to_the_budget():
  c = ws_config.get_config('')
  grid = experiment.build_models(c)
  for m in grid:
    if 'budget' in m.size:
      key, value = next(iter(m.knob.items()))
      for other in (value - 1, value + 1):
        assert abs(experiment.count(m.family, {key: other}) - c.budget) \
            >= abs(m.param_count - c.budget)
  # CNN and GRU at the paper's size are the budget size too: merged.
  sizes = {(m.family, m.size) for m in grid}
  assert ('cnn', 'paper = budget') in sizes and ('gru', 'paper = budget') in sizes
  assert ('mlp', 'paper') in sizes and ('mlp', 'budget') in sizes


def _gru_numpy(x_NL, w_i, w_h, b_i, b_h, reverse=False):
  """torch.nn.GRU's equations, step by step, in float64."""
  n, length = x_NL.shape
  hidden = w_h.shape[0]
  h = np.zeros((n, hidden))
  out = np.zeros((n, length, hidden))
  order = range(length - 1, -1, -1) if reverse else range(length)
  sig = lambda v: 1 / (1 + np.exp(-v))
  for t in order:
    gi = x_NL[:, t:t + 1] @ w_i + b_i
    gh = h @ w_h + b_h
    r = sig(gi[:, :hidden] + gh[:, :hidden])
    z = sig(gi[:, hidden:2 * hidden] + gh[:, hidden:2 * hidden])
    cand = np.tanh(gi[:, 2 * hidden:] + r * gh[:, 2 * hidden:])
    h = (1 - z) * cand + z * h
    out[:, t] = h
  return out


def test_gru_matches_a_numpy_reference():
  model = models.GRU(7, 3, hidden=4, rngs=nnx.Rngs(0))
  x = np.random.default_rng(0).normal(size=(5, 7, 1, 1)).astype(np.float32)
  cells = [tuple(np.asarray(v[...], np.float64) for v in
                 (c.w_i, c.w_h, c.b_i, c.b_h)) for c in model.cells]
  states = np.concatenate([_gru_numpy(x[:, :, 0, 0], *cells[0]),
                           _gru_numpy(x[:, :, 0, 0], *cells[1], reverse=True)],
                          axis=-1)
  logits = states.reshape(5, -1) @ np.asarray(model.head.kernel[...]) + (
      np.asarray(model.head.bias[...]))
  np.testing.assert_allclose(np.asarray(model(jnp.asarray(x))), logits,
                             atol=1e-5)


def test_cnn1d_output_length_follows_same_padding():
  # 40 -> 20 -> 10 -> 5 positions with strides 2: a head of 5 * 25 inputs.
  model = _abstract(lambda rngs: models.CNN1D(40, 10, rngs=rngs))
  assert model.head.kernel.shape == (125, 10)
  model = _abstract(lambda rngs: models.CNN1D(41, 10, rngs=rngs))
  assert model.head.kernel.shape == (6 * 25, 10)   # ceil thrice: 21, 11, 6.


def test_the_lectures_weight_sharing_counts():
  """A 3x3 convolution on a 9-pixel patch shares 9 weights where a dense
  layer needs 81; a 100-unit recurrence over 3 steps needs 200 per-unit
  weights where its feed-forward unrolling needs 300. Counted on modules."""
  assert params.shared_vs_unshared_weights('conv', 3) == (9, 81)
  conv = nnx.Conv(1, 1, (3, 3), use_bias=False, rngs=nnx.Rngs(0))
  dense = nnx.Linear(9, 9, use_bias=False, rngs=nnx.Rngs(0))
  assert (_count(conv), _count(dense)) == (9, 81)
  # The same 9 outputs on a 3x3 patch (SAME padding): conv is a dense layer
  # whose 81 weights are tied to 9 values.
  x = np.random.default_rng(0).normal(size=(1, 3, 3, 1)).astype(np.float32)
  k = np.asarray(conv.kernel[...])[:, :, 0, 0]
  tied = np.zeros((9, 9))
  for i in range(3):
    for j in range(3):
      for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
          if 0 <= i + di < 3 and 0 <= j + dj < 3:
            tied[(i + di) * 3 + j + dj, i * 3 + j] = k[di + 1, dj + 1]
  np.testing.assert_allclose(np.asarray(conv(jnp.asarray(x))).ravel(),
                             x.ravel() @ tied, atol=1e-6)

  assert params.shared_vs_unshared_weights('rnn', 100, steps=3) == (200, 300)

  class Recurrent(nnx.Module):   # Per-unit weights: one input, one recurrent.
    def __init__(self, units, steps, shared):
      n = 1 if shared else steps - 1
      self.w_in = nnx.Param(jnp.ones(units))
      self.w_rec = nnx.List([nnx.Param(jnp.ones(units)) for _ in range(n)])

  assert _count(Recurrent(100, 3, shared=True)) == 200
  assert _count(Recurrent(100, 3, shared=False)) == 300


@pytest.mark.slow
def test_runlocal_end_to_end(runlocal):
  run = runlocal('weight_sharing')
  assert sorted(os.listdir(run.workdir)) == ['config.json', 'populations',
                                             'results.json', 'results.md',
                                             'results.png', 'tensorboard',
                                             'trials.jsonl']
  # (grid_extensions is read through config.get, which ReadTracker misses.)
  assert not unread_fields(run, 'weight_sharing') - {'grid_extensions'}
  summary = json.loads((run.workdir / 'results.json').read_text())
  config = ws_config.get_config('runlocal')
  rows = report.rows_of(summary)
  grid = experiment.build_models(config)
  # Both protocols; the paper's for its own models (here the CNN and GRU,
  # whose budget sizes are the paper's).
  assert all(m.is_papers for m in grid)
  assert len(rows) == len(config.datasets) * 2 * len(grid)
  for r in rows:
    assert r.scores.done and len(r.scores.test_per_seed) == config.num_seeds
    assert 0 <= r.scores.test_mean <= 1
  paper = [r for r in rows if r.protocol == 'paper']
  assert len(paper) == len(rows) // 2
  assert all(r.scores.grid == (config.paper_learning_rate,) for r in paper)
  # The paper protocol keeps each member's last epoch, not its best.
  trials = [json.loads(line) for line in
            (run.workdir / 'trials.jsonl').read_text().splitlines()]
  kept = {t['protocol']: set() for t in trials}
  for t in trials:
    kept[t['protocol']].add(t['metrics']['best_epoch']
                            == t['metrics']['epochs_run'] - 1)
  assert kept['paper'] == {True}
  assert {t['epochs'] for t in trials if t['protocol'] == 'paper'} == {
      t['metrics']['epochs_run'] for t in trials if t['protocol'] == 'paper'}
  # The stored rows render the same report the run wrote.
  assert report.render_markdown(summary) == (
      run.workdir / 'results.md').read_text()
  # One verdict line per model present on both datasets.
  verdict = report.verdict(rows, summary['datasets'])
  assert verdict.count('\n- ') + 1 == len(rows) // 2
  # Paired over the test examples the two datasets share.
  n = rows[0].scores.test_per_example.shape[1]
  assert report.shuffling_hurts(rows[0], rows[len(rows) // 2]).examples == n
  # :runlocal trains no MLP: the comparisons at the budget have no verdict.
  comparisons = report.budget_comparisons(rows)
  assert [a.shared.family for a in comparisons] == ['cnn', 'gru']
  assert all(a.mlp is None and a.verdict is None for a in comparisons)
  assert report.budget_verdict(rows).count('\n- ') + 1 == 2
  assert ' − mlp = ' not in report.headline(summary)


def _summary(rows, datasets):
  """The rows as results.json holds them."""
  return runner.to_json({'rows': rows, 'datasets': datasets})


def _errors(rate, seed, seeds=3, n=400):
  """(seeds, test examples) of 0/1 errors, each wrong with chance `rate`."""
  return (np.random.default_rng(seed).random((seeds, n)) < rate).astype(float)


def _scores(errors_SN, status='done', on_edge=False):
  if status != 'done':
    return runner.Scores(status, 'error', 3, 3)
  per_seed = tuple(errors_SN.mean(1))
  return runner.Scores('done', 'error', 3, 0, 1e-2, per_seed, per_seed,
                       runner.encode_examples(errors_SN), (1e-3, 3e-3, 1e-2),
                       on_edge)


def _row(dataset, errors, family='cnn', size='paper', status='done',
         on_edge=False):
  knob = {'mlp': 'width 51', 'cnn': 'channels 25', 'gru': 'hidden 6'}[family]
  return report.Row(dataset=dataset, family=family, size=size,
                    model=f'{family} {knob}', param_count=5_200,
                    scores=_scores(errors, status, on_edge))


def _expected(a, b):
  return stats.compare(a, b, higher_is_better=False)


OUTCOMES = [  # (error rate of a, of b, the verdict on "a beats b")
    (0.10, 0.40, 'supported'),
    (0.40, 0.10, 'contradicted'),
    (0.30, 0.30, 'inconclusive'),
]


def test_the_shuffled_test_set_is_the_plain_one_with_positions_permuted():
  """Why the shuffling verdict may pair over the test examples."""
  plain = data.generate_mnist1d(1000, 42, shuffled=False)
  shuffled = data.generate_mnist1d(1000, 42, shuffled=True)
  np.testing.assert_array_equal(plain['y_test'], shuffled['y_test'])
  x, y = plain['x_test'], shuffled['x_test']
  order = [int(np.argmin(((x - y[:, [j]]) ** 2).sum(0))) for j in range(40)]
  assert sorted(order) == list(range(40))
  np.testing.assert_allclose(x[:, order], y)


@pytest.mark.parametrize('plain_rate,shuffled_rate,outcome', OUTCOMES)
def test_the_shuffling_verdict_reaches_each_outcome(plain_rate, shuffled_rate,
                                                    outcome):
  plain, shuffled = _errors(plain_rate, 1), _errors(shuffled_rate, 2)
  rows = [_row('mnist1d', plain), _row('mnist1d_shuffled', shuffled)]
  c = report.shuffling_hurts(*rows)
  expected = _expected(plain, shuffled)
  assert c == expected and c.verdict == outcome
  assert c.examples == 400   # Paired over the shared test examples.
  assert c.difference == pytest.approx(plain.mean() - shuffled.mean())
  (line,) = report.verdict(rows, ['mnist1d', 'mnist1d_shuffled']).splitlines()
  assert line.endswith(f': {outcome}.')
  assert f'{100 * c.difference:+.1f} [{100 * c.low:+.1f}, ' in line
  assert report.verdict(rows, ['mnist1d']) == ''   # Nothing to compare.


def _budget_rows(shared, mlp, family, on_edge=False):
  """The weight-sharing `family` and the MLP at the budget on mnist1d, with
  decoys that must not be compared: the MLP at the paper's size, and the
  shuffled dataset's rows."""
  size = {'cnn': 'paper = budget', 'gru': 'budget'}[family]
  return [_row('mnist1d', _errors(0.9, 3), 'mlp', 'paper'),
          _row('mnist1d', mlp, 'mlp', 'budget', on_edge=on_edge),
          _row('mnist1d', shared, family, size),
          _row('mnist1d_shuffled', _errors(0.01, 4), 'mlp', 'budget'),
          _row('mnist1d_shuffled', _errors(0.9, 5), family, size)]


@pytest.mark.parametrize('family', ['cnn', 'gru'])
@pytest.mark.parametrize('shared_rate,mlp_rate,outcome', OUTCOMES)
def test_sharing_against_the_mlp_at_the_budget_reaches_each_outcome(
    family, shared_rate, mlp_rate, outcome):
  shared, mlp = _errors(shared_rate, 1), _errors(mlp_rate, 2)
  rows = _budget_rows(shared, mlp, family)
  (a,) = report.budget_comparisons(rows)
  assert (a.shared, a.mlp) == (rows[2], rows[1])
  assert a.verdict == outcome and a.comparison == _expected(shared, mlp)
  assert a.comparison.examples == 400
  assert a.comparison.difference == pytest.approx(shared.mean() - mlp.mean())
  (line,) = report.budget_verdict(rows).splitlines()
  assert line.startswith(f'- {family} ') and line.endswith(f': {outcome}.')
  c = a.comparison
  numbers = f'{100 * c.difference:+.1f} [{100 * c.low:+.1f}, {100 * c.high:+.1f}]'
  assert f'{family} − mlp = {numbers}' in line
  headline = report.headline(_summary(rows, ['mnist1d', 'mnist1d_shuffled']))
  assert f'{family} − mlp = {numbers}' in headline
  assert f'points: {outcome}.' in headline


def test_an_mlp_picked_on_its_grids_end_is_noted_beside_the_verdict():
  rows = _budget_rows(_errors(0.1, 1), _errors(0.4, 2), 'cnn', on_edge=True)
  note = runner.edge_note(cnn=rows[2].scores, mlp=rows[1].scores)
  assert note and report.budget_verdict(rows).endswith(note + '.')
  assert note in report.headline(_summary(rows, ['mnist1d']))


def test_both_sharing_nets_are_compared_with_the_one_mlp():
  mlp = _errors(0.4, 2)
  rows = _budget_rows(_errors(0.1, 1), mlp, 'cnn') + [
      _row('mnist1d', mlp, 'gru', 'budget')]
  comparisons = report.budget_comparisons(rows)
  assert [(a.shared.family, a.verdict) for a in comparisons] == [
      ('cnn', 'supported'), ('gru', 'inconclusive')]
  assert comparisons[1].comparison.difference == 0
  assert all(a.mlp is rows[1] for a in comparisons)
  # The headline's accuracies are the budget's too (not the paper MLP's).
  assert f'mlp 5,200 params {100 * (1 - mlp.mean()):.1f}%' in report.headline(
      _summary(rows, ['mnist1d', 'mnist1d_shuffled']))


def test_without_the_budget_mlp_there_is_no_verdict():
  # Only the MLP at the paper's size: not at the budget, not compared.
  rows = [_row('mnist1d', _errors(0.4, 1), 'mlp', 'paper'),
          _row('mnist1d', _errors(0.1, 2), 'cnn', 'budget'),
          _row('mnist1d', _errors(0.1, 3), 'gru', 'budget')]
  comparisons = report.budget_comparisons(rows)
  assert [(a.shared.family, a.mlp, a.comparison) for a in comparisons] == [
      ('cnn', None, None), ('gru', None, None)]
  lines = report.budget_verdict(rows).splitlines()
  assert len(lines) == 2 and all('no verdict' in l for l in lines)
  headline = report.headline(_summary(rows, ['mnist1d']))
  assert ' − mlp = ' not in headline and 'no verdict' in headline
  # A diverged MLP: compared with nothing either.
  rows[0] = _row('mnist1d', None, 'mlp', 'budget', status='diverged')
  (a, b) = report.budget_comparisons(rows)
  assert a.mlp is rows[0] and a.comparison is None and b.comparison is None
  assert report.rows_of(_summary(rows, ['mnist1d'])) == rows
  # No net that shares weights at the budget: nothing to compare.
  assert report.budget_comparisons(rows[:1]) == []
  assert report.budget_verdict(rows[:1]) == (
      f'- {report.NO_BUDGET_COMPARISON}')


def test_the_anchor_is_the_papers_table():
  table = {r['dataset']: r for r in reference.load_csv(
      'mnist1d2020_models.csv')}
  anchor = weight_sharing.STUDY.chapter.anchor
  for family, label in (('logistic', 'logistic'), ('mlp', 'MLP'),
                        ('cnn', 'CNN'), ('gru', 'GRU')):
    assert f'{label} {table["mnist1d"][family]}%' in anchor
  for family, label in (('cnn', 'CNN'), ('gru', 'GRU')):
    assert f'{label} {table["mnist1d_shuffled"][family]}%' in anchor


def test_the_paper_protocol_is_8000_steps_of_constant_adam_kept_at_the_last():
  """3,400 training examples at batch 100: 34 steps a pass, 235 passes,
  7,990 steps (the paper: 8,000); on 4,000, 40 and 200."""
  config = ws_config.get_config('')
  settings = train.TrainSettings()
  p = experiment.paper_protocol(settings, config, 3_400)
  assert (p.num_epochs, p.batch_size, p.schedule, p.optimizer, p.keep,
          p.patience) == (235, 100, 'constant', 'adam', 'last', 0)
  assert experiment.paper_protocol(settings, config, 4_000).num_epochs == 200
  # Which models get it: the paper's sizes and logistic regression.
  papers = {(m.family, m.size) for m in experiment.build_models(config)
            if m.is_papers}
  assert papers == {('logistic', 'one size'), ('mlp', 'paper'),
                    ('cnn', 'paper = budget'), ('gru', 'paper = budget')}


def test_the_paper_protocols_rows_are_compared_with_their_own_shuffled_rows():
  """A shuffled-vs-plain verdict never mixes protocols, and the budget
  comparison reads the tuned rows only."""
  rows = [_row('mnist1d', _errors(0.1, 1)),
          _row('mnist1d_shuffled', _errors(0.4, 2)),
          dataclasses.replace(_row('mnist1d', _errors(0.3, 3)),
                              protocol='paper'),
          dataclasses.replace(_row('mnist1d_shuffled', _errors(0.3, 4)),
                              protocol='paper')]
  lines = report.verdict(rows, ['mnist1d', 'mnist1d_shuffled']).splitlines()
  assert len(lines) == 2
  assert 'tuned protocol' in lines[0] and lines[0].endswith(': supported.')
  tuned = report.shuffling_hurts(rows[0], rows[1])
  paper = report.shuffling_hurts(rows[2], rows[3])
  assert f'{100 * tuned.difference:+.1f} [' in lines[0]
  assert 'paper protocol' in lines[1]
  assert f'{100 * paper.difference:+.1f} [' in lines[1]
  assert paper.verdict == 'inconclusive' and lines[1].endswith(
      ': inconclusive.')
  table = report.results_table(rows, ['mnist1d', 'mnist1d_shuffled'])
  assert table.count('| paper | paper |') == 1
  assert table.count('| paper | tuned |') == 1
  assert report.rows_of(_summary(rows, ['mnist1d'])) == rows
  assert report.budget_comparisons([dataclasses.replace(
      r, size='budget') for r in rows[2:]]) == []


@pytest.mark.parametrize('overrides,field', [
    (dict(families=('logistic', 'transformer')), 'families'),
    (dict(protocols=('paper', 'none')), 'protocols'),
    (dict(paper_steps=0), 'paper_steps'),
    (dict(keep='last', patience=3), 'keep'),
    (dict(sizes=('huge',)), 'sizes'),
    (dict(datasets=('digits',)), 'datasets'),
    (dict(budget=10), 'budget'),
])
def test_bad_config_is_one_usage_line_and_writes_nothing(overrides, field,
                                                         tmp_path):
  config = ws_config.get_config('')
  config.update(overrides)
  message = refused(weight_sharing.train_and_evaluate, config,
                    tmp_path / 'never_created')
  assert message.startswith(f'config.{field}')


def test_unknown_family_from_the_launcher_is_exit_2(tmp_path):
  proc = launch(
      'weight_sharing',
      "--config.families=('mlp','resnet')",
      f'--workdir={tmp_path / "never"}',
      timeout=120)
  assert proc.returncode == 2
  lines = [l for l in proc.stderr.splitlines() if l.strip()]
  assert len(lines) == 1 and 'config.families' in lines[0]
  assert not (tmp_path / 'never').exists()
