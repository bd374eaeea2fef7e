"""The separation study: its config checks, the verdicts on constructed rows
(every outcome) and its own :runlocal run."""

import dataclasses
import json
import os
import re

import numpy as np
import pytest
from conftest import launch, refused, unread_fields

from deepvsshallow import runner, stats
from deepvsshallow.studies import separation
from deepvsshallow.studies.separation import report

sep_config = separation.config


@pytest.mark.parametrize('pair', [(4, 12), (3, 3), (4,), (-1, 2)])
def test_a_pair_of_labels_that_do_not_exist_is_refused(tmp_path, pair):
  config = sep_config.get_config('digits,runlocal')
  config.pair = pair
  message = refused(separation.train_and_evaluate, config,
                    tmp_path / 'never')
  assert message.startswith('config.pair')


def test_a_shallow_deep_net_is_refused(tmp_path):
  config = sep_config.get_config('runlocal')
  config.deep_hidden = (64,)
  message = refused(separation.train_and_evaluate, config, tmp_path / 'never')
  assert message.startswith('config.deep_hidden')


@pytest.mark.parametrize('overrides,field', [
    (dict(projections=('umap',)), 'projections'),
    (dict(probe_l2=0.0), 'probe_l2'),
    (dict(activation='tanh'), 'activation'),
    (dict(projection_points=5), 'projection_points'),
])
def test_bad_fields_are_refused_by_name(tmp_path, overrides, field):
  config = sep_config.get_config('runlocal')
  config.update(overrides)
  message = refused(separation.train_and_evaluate, config, tmp_path / 'never')
  assert message.startswith(f'config.{field}')


def test_launcher_bad_pair_is_one_line_and_exit_2(tmp_path):
  proc = launch('separation', '--config=:digits,runlocal',
                '--config.pair=(4, 12)', f'--workdir={tmp_path / "never"}',
                timeout=120)
  assert proc.returncode == 2, proc.stderr[-2000:]
  lines = [l for l in proc.stderr.splitlines() if l.strip()]
  assert len(lines) == 1 and 'config.pair' in lines[0]
  assert not (tmp_path / 'never').exists()


@pytest.mark.slow
def test_runlocal_every_field_is_read_and_every_layer_is_measured(runlocal):
  config = sep_config.get_config('runlocal')
  run = runlocal('separation')
  # grid_extensions is read through config.get, which ReadTracker misses.
  assert not unread_fields(run, 'separation') - {'grid_extensions'}
  assert sorted(os.listdir(run.workdir)) == [
      'config.json', 'populations', 'projections.png', 'results.json',
      'results.md', 'separation.png', 'tensorboard', 'trials.jsonl']
  summary = json.loads((run.workdir / 'results.json').read_text())
  assert summary['pair_from'] == 'validation'
  a, b = summary['pair']   # Most confused on validation: off the diagonal.
  counts = summary['confusion_validation']
  assert len(counts) == 10
  assert a != b and counts[a][b] + counts[b][a] == max(
      counts[i][j] + counts[j][i] for i in range(10) for j in range(10)
      if i != j)
  rows = report.layers_of(summary)
  layers = [(r.family, r.layer) for r in rows]
  assert layers == [('deep', 0), ('deep', 1), ('deep', 2), ('shallow', 0),
                    ('shallow', 1), ('narrow', 0), ('narrow', 1)]
  # Equal width: the one-layer net is as wide as the deep net's last layer.
  assert [r.width for r in rows if r.family == 'narrow'][1] == (
      config.deep_hidden[-1])
  num_test = report.nets_of(summary)[0].scores.test_per_example.shape[1]
  for r in rows:
    # Each test example's accuracy over the 9 pairs holding its class: a
    # multiple of 1/9, and its mean the row's all-pairs probe accuracy.
    every = runner.decode_examples(r.all_pairs_examples)
    assert every.shape == (config.num_seeds, num_test)
    np.testing.assert_allclose(every * 9, np.round(every * 9), atol=1e-5)
    np.testing.assert_allclose(every.mean(1), r.all_pairs_probe_per_seed,
                               atol=1e-6)
    assert len(r.all_pairs_fisher_per_seed) == config.num_seeds
    assert all(f > 0 for f in r.all_pairs_fisher_per_seed)
    assert len(r.probe_accuracy_per_seed) == config.num_seeds
    assert len(r.fisher_per_seed) == config.num_seeds
    np.testing.assert_allclose(np.mean(r.probe_accuracy_per_seed),
                               r.mean('probe_accuracy'))
    np.testing.assert_allclose(np.mean(r.fisher_per_seed), r.mean('fisher'))
    # The probe's right/wrong per test example of the pair, per seed.
    correct = runner.decode_examples(r.probe_examples)
    assert correct.shape == (config.num_seeds,
                             summary['pair_examples']['test'])
    np.testing.assert_allclose(correct.mean(1), r.probe_accuracy_per_seed,
                               atol=1e-12)
  # Layer 0 is the input for every net: the same probes, the same ratios.
  for other in (rows[3], rows[5]):
    for key in report.MEASURES:
      assert rows[0].mean(key) == pytest.approx(other.mean(key))
  nets = report.nets_of(summary)
  assert [n.family for n in nets] == ['deep', 'shallow', 'narrow']
  assert nets[2].hidden_widths == (config.deep_hidden[-1],)
  for n in nets:
    assert n.scores.done and len(n.scores.test_per_seed) == config.num_seeds
    assert 0 <= n.scores.test_mean <= 1
  projections = report.projections_of(summary)
  assert len(projections) == 7   # PCA of each layer.
  assert [(p.family, p.layer, p.method) for p in projections] == [
      (f, layer, 'pca') for f, layer in layers]
  for p in projections:
    assert len(p.points) == len(summary['projection_labels'])
  assert len(summary['projection_labels']) == min(
      config.projection_points, summary['pair_examples']['test'])
  said = report.verdict(rows, nets)
  assert said in run.output
  # The headline is the claim's line of the verdict, from the same Claim.
  decided = report.claim(rows, nets)
  assert decided.verdict in stats.VERDICTS
  # The probe paired over the pair's test examples; Fisher over seeds.
  assert all(c.seeds == (config.num_seeds,) * 2 for c in
             decided.comparisons.values())
  assert {k: c.examples for k, c in decided.comparisons.items()} == {
      'probe_accuracy': summary['pair_examples']['test'], 'fisher': 0,
      'all_pairs_probe': num_test, 'all_pairs_fisher': 0}
  against = report.depth_against(rows, nets)
  assert [d.other for d in against] == ['shallow', 'narrow']
  assert report.headline(summary) == ' '.join(
      [report.claim_said(decided)] + [report.against_said(d) for d in against])
  assert said.endswith('- ' + report.claim_said(decided))
  # What each layer adds: one row per hidden layer of each net.
  # (header, rule, 2 deep steps, 1 per one-layer net: 6 lines.)
  assert len(report.steps_table(rows).splitlines()) == 2 + 2 + 1 + 1
  # The stored rows render the same report the run wrote.
  assert report.render_markdown(summary) == (
      run.workdir / 'results.md').read_text()


# ------------------------------------------------- verdicts, on built rows

def _row(family, layer, acc, fisher):
  """Every measure: the pair's as given, all pairs' the same values."""
  return report.Layer(family=family, layer=layer, width=16,
                      probe_accuracy_per_seed=tuple(acc),
                      fisher_per_seed=tuple(fisher),
                      all_pairs_probe_per_seed=tuple(acc),
                      all_pairs_fisher_per_seed=tuple(fisher))


def _net(family, on_edge=False):
  errors_SN = np.zeros((3, 10))
  errors_SN[:, :2] = 1
  return report.Net(family=family, hidden_widths=(16, 16), param_count=1_000,
                    scores=runner.Scores(
                        'done', 'error', 3, 0, 1e-2, (0.2,) * 3, (0.2,) * 3,
                        runner.encode_examples(errors_SN), (1e-3, 1e-2),
                        on_edge))


NETS = [_net('deep'), _net('shallow')]
UP = [(0.60, 0.60, 0.60), (0.70, 0.71, 0.69), (0.80, 0.81, 0.79)]
DOWN = UP[::-1]
NOISY = [(0.60, 0.60, 0.60), (0.50, 0.70, 0.60), (0.40, 0.80, 0.62)]
BUMPY = [(0.60, 0.60, 0.60), (0.80, 0.81, 0.79), (0.70, 0.71, 0.69)]
SHALLOW = (0.65, 0.66, 0.64)   # The shallow net's last layer, both measures.


def _rows(acc, fisher):
  deep = [_row('deep', i, a, f) for i, (a, f) in enumerate(zip(acc, fisher))]
  shallow = [_row('shallow', 0, acc[0], fisher[0]),
             _row('shallow', 1, SHALLOW, SHALLOW)]
  return deep + shallow


@pytest.mark.parametrize('a,b,outcome,difference', [
    (UP[2], SHALLOW, 'supported', 0.15),
    (SHALLOW, UP[2], 'contradicted', -0.15),
    (NOISY[2], SHALLOW, 'inconclusive', 1.82 / 3 - 0.65),
    # One seed a side (a smoke run): no interval, inconclusive.
    (UP[2][:1], SHALLOW[:1], 'inconclusive', 0.15)])
def test_higher_reaches_each_outcome_over_seeds(a, b, outcome, difference):
  for key in report.MEASURES:
    c = report.higher(_row('deep', 2, a, a), _row('shallow', 1, b, b), key)
    assert c.verdict == outcome
    assert c.difference == pytest.approx(difference, abs=1e-12)
    assert c.examples == 0 and c.seeds == (len(a), len(b))   # Seeds only.
    if len(a) > 1:
      assert c == stats.compare(a, b, higher_is_better=True)
      assert c.low < difference < c.high
    else:
      assert (c.low, c.high) == (-np.inf, np.inf)


# probe accuracy, Fisher ratio (per layer of the deep net), the claim's
# verdict, each measure's verdict, and the last-minus-input differences.
CLAIMS = [
    (UP, UP, 'supported', ('supported', 'supported'), 0.20, 0.20),
    (BUMPY, UP, 'supported', ('supported', 'supported'), 0.10, 0.20),
    (UP, NOISY, 'inconclusive', ('supported', 'inconclusive'), 0.20,
     0.02 / 3),
    (NOISY, NOISY, 'inconclusive', ('inconclusive', 'inconclusive'),
     0.02 / 3, 0.02 / 3),
    (DOWN, DOWN, 'contradicted', ('contradicted', 'contradicted'), -0.20,
     -0.20),
    (NOISY, DOWN, 'contradicted', ('inconclusive', 'contradicted'), 0.02 / 3,
     -0.20),
    (UP, DOWN, 'contradicted', ('supported', 'contradicted'), 0.20, -0.20),
]


@pytest.mark.parametrize('acc,fisher,outcome,each,d_acc,d_fisher', CLAIMS)
def test_the_claim_reaches_each_outcome(acc, fisher, outcome, each, d_acc,
                                        d_fisher):
  rows = _rows(acc, fisher)
  summary = runner.to_json({'rows': rows, 'nets': NETS})   # As stored.
  assert report.layers_of(summary) == rows
  assert report.nets_of(summary) == NETS
  decided = report.claim(rows, NETS)
  assert decided.verdict == outcome
  c = decided.comparisons
  assert (c['probe_accuracy'].verdict, c['fisher'].verdict) == each
  assert (c['all_pairs_probe'].verdict, c['all_pairs_fisher'].verdict) == each
  assert c['probe_accuracy'].difference == pytest.approx(d_acc, abs=1e-12)
  assert c['fisher'].difference == pytest.approx(d_fisher, abs=1e-12)
  assert c['fisher'] == report.higher(rows[2], rows[0], 'fisher')
  assert decided.note == ''   # Both picks bracketed.
  # The headline opens with the verdict's last line, the same Claim's, and
  # carries both intervals.
  headline = report.headline(summary)
  assert headline.startswith(report.claim_said(decided))
  assert report.verdict(rows, NETS).endswith('- ' + report.claim_said(decided))
  assert c['probe_accuracy'].describe(
      'last', 'input', scale=100, unit='points') in headline
  assert c['fisher'].describe('last', 'input', fmt='+.3g') in headline


def test_a_pick_on_the_edge_of_its_grid_is_said_beside_the_verdicts():
  rows = _rows(UP, UP)
  nets = [_net('deep', on_edge=True), _net('shallow')]
  note = runner.edge_note(deep=nets[0].scores)
  assert note and note == runner.edge_note(deep=nets[0].scores,
                                           shallow=nets[1].scores)
  decided = report.claim(rows, nets)
  assert decided.note == note
  assert report.claim_said(decided).endswith(note + '.')
  against = lambda nets: next(
      line for line in report.verdict(rows, nets).splitlines()
      if line.startswith('- Deep against shallow, equal parameters'))
  assert against(nets).endswith(note + '.')   # Deep vs shallow, last layer.
  # A shallow pick on the edge is said beside deep vs shallow only.
  nets = [_net('deep'), _net('shallow', on_edge=True)]
  assert report.claim(rows, nets).note == ''
  assert against(nets).endswith(runner.edge_note(shallow=nets[1].scores)
                                + '.')


def test_deep_vs_shallow_at_the_last_layer_is_compared():
  rows = _rows(UP, UP)   # Deep 0.80 vs shallow 0.65: deep ahead.
  c = report.higher(rows[2], rows[4], 'probe_accuracy')
  assert c.verdict == 'supported'
  assert c.difference == pytest.approx(0.15)
  assert c.describe('deep', 'shallow', scale=100, unit='points') in (
      report.verdict(rows, NETS))


@pytest.mark.parametrize('narrow,outcome', [
    (SHALLOW, 'supported'),            # Deep's last layer 0.80 vs 0.65.
    (UP[2], 'inconclusive'),           # The same seeds: a difference of 0.
    ((0.95, 0.96, 0.94), 'contradicted'),
])
def test_depth_against_one_layer_at_equal_width_reaches_each_outcome(
    narrow, outcome):
  rows = _rows(UP, UP) + [_row('narrow', 0, UP[0], UP[0]),
                          _row('narrow', 1, narrow, narrow)]
  nets = NETS + [_net('narrow')]
  shallow, wide = report.depth_against(rows, nets)
  assert (shallow.other, wide.other) == ('shallow', 'narrow')
  assert shallow.verdict == 'supported'
  assert wide.verdict == outcome
  for key, c in wide.comparisons.items():
    assert c == report.higher(rows[2], rows[-1], key)
    assert c.difference == pytest.approx(0.80 - np.mean(narrow), abs=1e-9)
  assert report.against_said(wide) in report.verdict(rows, nets)
  assert report.against_said(wide) in report.headline(
      runner.to_json({'rows': rows, 'nets': nets}))
  # What each layer adds, against the layer below.
  steps = report.steps_table(rows).splitlines()
  assert len(steps) == 2 + 2 + 1 + 1
  up = report.higher(rows[1], rows[0], 'probe_accuracy')
  assert f'{100 * up.difference:+.1f} [{100 * up.low:+.1f}' in steps[2]


def test_an_input_already_separable_is_said():
  acc = [(0.98,) * 3, (0.985, 0.99, 0.98), (0.99, 0.99, 0.99)]
  assert 'already linearly separable' in report.verdict(_rows(acc, UP), NETS)
  assert 'already linearly separable' not in report.verdict(_rows(UP, UP),
                                                            NETS)


def test_the_anchor_names_the_lectures_pair():
  """Mohamed, Hinton & Penn 2012 published pictures, no table (so no
  reference CSV): the anchor's numbers are the year and the lecture's
  pair, the one the MNIST and digits configs set."""
  numbers = [int(x) for x in re.findall(r'\d+',
                                        separation.STUDY.chapter.anchor)]
  assert numbers == [2012, 4, 9]
  for arg in ('mnist', 'digits'):
    assert tuple(sep_config.get_config(arg).pair) == (4, 9)


def test_the_probes_are_compared_paired_over_the_pairs_test_examples():
  """With each seed's right/wrong per test example, the probe comparison is
  the yardstick on those (seeds x examples); the Fisher ratio stays one
  number per seed."""
  rng = np.random.default_rng(0)
  deep = (rng.random((3, 120)) < 0.9).astype(float)
  shallow = np.tile((rng.random(120) < 0.8).astype(float), (3, 1))  # Input.
  a = dataclasses.replace(
      _row('deep', 2, deep.mean(1), (2.0, 2.1, 2.2)),
      probe_examples=runner.encode_examples(deep))
  b = dataclasses.replace(
      _row('deep', 0, shallow.mean(1), (1.0, 1.0, 1.0)),
      probe_examples=runner.encode_examples(shallow))
  c = report.higher(a, b, 'probe_accuracy')
  assert c == stats.compare(deep, shallow, higher_is_better=True)
  assert c.examples == 120
  assert report.higher(a, b, 'fisher').examples == 0
