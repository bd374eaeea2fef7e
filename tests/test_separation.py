"""The separation study: its config checks, the verdicts on constructed rows
(every outcome) and its own :runlocal run."""

import json
import os

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
  assert not unread_fields(run, 'separation')
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
                    ('shallow', 1)]
  for r in rows:
    assert len(r.probe_accuracy_per_seed) == config.num_seeds
    assert len(r.fisher_per_seed) == config.num_seeds
    np.testing.assert_allclose(np.mean(r.probe_accuracy_per_seed),
                               r.mean('probe_accuracy'))
    np.testing.assert_allclose(np.mean(r.fisher_per_seed), r.mean('fisher'))
  # Layer 0 is the input for both nets: the same probe, the same ratio.
  deep0, shallow0 = rows[0], rows[3]
  assert deep0.mean('probe_accuracy') == shallow0.mean('probe_accuracy')
  assert deep0.mean('fisher') == pytest.approx(shallow0.mean('fisher'))
  nets = report.nets_of(summary)
  assert [n.family for n in nets] == ['deep', 'shallow']
  for n in nets:
    assert n.scores.done and len(n.scores.test_per_seed) == config.num_seeds
    assert 0 <= n.scores.test_mean <= 1
  projections = report.projections_of(summary)
  assert len(projections) == 5   # PCA of each layer.
  assert [(p.family, p.layer, p.method) for p in projections] == [
      (f, layer, 'pca') for f, layer in layers]
  for p in projections:
    assert len(p.points) == len(summary['projection_labels'])
  assert len(summary['projection_labels']) == min(
      config.projection_points, summary['pair_examples']['test'])
  said = report.verdict(rows)
  assert said in run.output
  # The headline is the claim's line of the verdict, from the same Claim.
  decided = report.claim([r for r in rows if r.family == 'deep'])
  assert decided.verdict in stats.VERDICTS
  assert report.headline(summary) == report.claim_said(decided)
  assert said.endswith('- ' + report.headline(summary))
  # The stored rows render the same report the run wrote.
  assert report.render_markdown(summary) == (
      run.workdir / 'results.md').read_text()


# ------------------------------------------------- verdicts, on built rows

def _row(family, layer, acc, fisher):
  return report.Layer(family=family, layer=layer, width=16,
                      probe_accuracy_per_seed=tuple(acc),
                      fisher_per_seed=tuple(fisher))


UP = [(0.60, 0.60, 0.60), (0.70, 0.71, 0.69), (0.80, 0.81, 0.79)]
DOWN = UP[::-1]
NOISY = [(0.60, 0.60, 0.60), (0.50, 0.70, 0.60), (0.40, 0.80, 0.62)]
BUMPY = [(0.60, 0.60, 0.60), (0.80, 0.81, 0.79), (0.70, 0.71, 0.69)]


def _rows(acc, fisher):
  deep = [_row('deep', i, a, f) for i, (a, f) in enumerate(zip(acc, fisher))]
  shallow = [_row('shallow', 0, acc[0], fisher[0]),
             _row('shallow', 1, (0.65, 0.66, 0.64), (0.6, 0.6, 0.6))]
  return deep + shallow


# probe accuracy, Fisher ratio (per layer of the deep net), the claim's
# verdict, the measures that rise / fall beyond the spread, whether both
# rise at every layer, and the last-minus-input differences by hand.
CLAIMS = [
    (UP, UP, 'supported', ('probe_accuracy', 'fisher'), (), True,
     0.20, 0.20),
    (BUMPY, UP, 'supported', ('probe_accuracy', 'fisher'), (), False,
     0.10, 0.20),
    (UP, NOISY, 'supported', ('probe_accuracy',), (), False, 0.20, 0.02 / 3),
    (DOWN, DOWN, 'contradicted', (), ('probe_accuracy', 'fisher'), False,
     -0.20, -0.20),
    (NOISY, DOWN, 'contradicted', (), ('fisher',), False, 0.02 / 3, -0.20),
    (UP, DOWN, 'inconclusive', ('probe_accuracy',), ('fisher',), False,
     0.20, -0.20),
    (NOISY, NOISY, 'inconclusive', (), (), False, 0.02 / 3, 0.02 / 3),
]


@pytest.mark.parametrize('acc,fisher,outcome,rose,fell,every,d_acc,d_fisher',
                         CLAIMS)
def test_the_claim_reaches_each_outcome(acc, fisher, outcome, rose, fell,
                                        every, d_acc, d_fisher):
  rows = _rows(acc, fisher)
  summary = runner.to_json({'rows': rows})   # As results.json holds them.
  assert report.layers_of(summary) == rows
  decided = report.claim(rows[:3])
  assert decided.verdict == outcome
  assert (decided.rose, decided.fell, decided.every_layer) == (rose, fell,
                                                               every)
  c = decided.comparisons
  assert c['probe_accuracy'].difference == pytest.approx(d_acc, abs=1e-12)
  assert c['fisher'].difference == pytest.approx(d_fisher, abs=1e-12)
  # The headline and the verdict's last line are the same Claim's.
  headline = report.headline(summary)
  assert headline == report.claim_said(decided)
  assert report.verdict(rows).endswith('- ' + headline)
  assert f'{100 * d_acc:+.1f}' in headline


def test_the_layer_by_layer_trend():
  rows = lambda values: [_row('deep', i, v, v) for i, v in enumerate(values)]
  assert report.trend(rows(UP), 'probe_accuracy') == 'rises at every layer'
  assert report.trend(rows(DOWN), 'fisher') == 'falls at every layer'
  assert report.trend(rows(BUMPY), 'fisher') == (
      'rises at 1 of 2 layers, falls at 1')
  assert report.trend(rows(NOISY), 'fisher') == (
      'rises at 0 of 2 layers, falls at 0')


def test_deep_vs_shallow_at_the_last_layer_is_compared():
  rows = _rows(UP, UP)   # Deep 0.80 vs shallow 0.65: deep ahead.
  c = report.higher(rows[2], rows[4], 'probe_accuracy')
  assert c.verdict == 'supported'
  assert c.difference == pytest.approx(0.15)
  assert '+15.0' in report.verdict(rows)


def test_a_comparison_in_three_significant_digits():
  c = stats.Comparison(0.01234, -0.5, 0.612, 'inconclusive', (2, 2))
  said = c.describe('a', 'b', fmt='+.3g')
  assert '+0.0123 [-0.5, +0.612]' in said and said.endswith('inconclusive')
  one = stats.compare_seeds([0.3], [0.1, 0.2], higher_is_better=True)
  said = one.describe('a', 'b', fmt='+.3g')
  assert '+0.15' in said and 'inf' not in said
  assert c.describe('a', 'b', scale=100, unit='points') == (
      'a − b = +1.2 [-50.0, +61.2] points: inconclusive')


def test_an_input_already_separable_is_said():
  acc = [(0.98,) * 3, (0.985, 0.99, 0.98), (0.99, 0.99, 0.99)]
  assert 'already linearly separable' in report.verdict(_rows(acc, UP))
