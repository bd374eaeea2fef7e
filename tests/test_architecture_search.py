"""The architecture search study: its checks, its :runlocal run (every
search trains its candidates within the budget and picks on validation), and
the evolution-against-random verdict on constructed summaries. The searches
themselves (evolution, random search, the space) are tested in
test_selection_search.py."""

import json
import os

import numpy as np
import pytest

from conftest import refused, unread_fields
from deepvsshallow import evolution, runner, stats
from deepvsshallow.studies import architecture_search
from deepvsshallow.studies.architecture_search import report

search_config = architecture_search.config


@pytest.mark.parametrize('overrides,field', [
    (dict(generations=0), 'generations'),
    (dict(budget=100), 'budget'),                 # Below the smallest MLP.
    (dict(sample_size=9), 'sample_size'),         # Larger than the population.
    (dict(methods=('evolution', 'annealing')), 'methods'),
    (dict(activations=('relu', 'swish')), 'activations'),
    (dict(search_learning_rates=(1e-3, -1.0)), 'search_learning_rates'),
])
def test_architecture_search_refuses_bad_configs(tmp_path, overrides, field):
  config = search_config.get_config('runlocal')
  config.update(overrides)
  message = refused(architecture_search.train_and_evaluate, config,
                    tmp_path / 'never')
  assert message.startswith(f'config.{field}'), message


def test_the_budget_check_names_the_smallest_architecture():
  config = search_config.get_config('runlocal')
  config.budget = 100
  (line,) = architecture_search.STUDY.fields.problems(config)
  # MNIST-1D's 40 inputs, one hidden layer of 16, 10 classes.
  smallest = evolution.Space(input_dim=40, num_classes=10, budget=10**9,
                             depths=(1,), widths=(16,)).param_count(
                                 evolution.Arch(1, 16, 'relu', 1e-3))
  assert smallest == 40 * 16 + 16 + 16 * 10 + 10
  assert line.startswith('config.budget=100') and f'({smallest})' in line


@pytest.mark.slow
def test_runlocal_end_to_end(runlocal):
  run = runlocal('architecture_search')
  assert sorted(os.listdir(run.workdir)) == ['config.json', 'populations',
                                             'results.json', 'results.md',
                                             'results.png', 'tensorboard',
                                             'trials.jsonl']
  assert not unread_fields(run, 'architecture_search')
  summary = json.loads((run.workdir / 'results.json').read_text())
  config = search_config.get_config('runlocal')
  per_search = config.population_size + (config.generations
                                         * config.children_per_generation)
  assert summary['candidates_per_search'] == per_search
  runs = report.runs_of(summary)
  assert len(runs) == len(config.methods) * config.search_seeds
  for r in runs:
    assert len(r.candidates) == len(r.best_so_far) == per_search
    assert all(c.params <= config.budget for c in r.candidates)
    assert list(r.best_so_far) == sorted(r.best_so_far, reverse=True)
    assert r.pick.val_error == min(r.best_so_far)
    assert r.candidates[r.pick.found_at - 1].val_error == r.pick.val_error
    assert 0 <= r.pick.test_error <= 1
    assert r.pick.optimism == pytest.approx(
        r.pick.test_error - r.pick.val_error)
  assert '| method | search seed | pick |' in run.output
  # The stored runs render the same report the run wrote.
  assert report.render_markdown(summary) == (
      run.workdir / 'results.md').read_text()
  o = report.outcome(runs, config.search_learning_rates)
  assert o.comparison.seeds == (config.search_seeds, config.search_seeds)
  assert o.evolution_test == pytest.approx(np.mean(
      [r.pick.test_error for r in runs if r.method == 'evolution']))
  # Each pick's errors on the test examples, the comparison paired over them.
  errors = np.concatenate([runner.decode_examples(r.pick.test_examples)
                           for r in runs])
  np.testing.assert_allclose(errors.mean(1),
                             [r.pick.test_error for r in runs], atol=1e-6)
  assert o.comparison.examples == errors.shape[1] > 0
  assert report.verdict(runs, per_search, summary['space_size'],
                        config.search_learning_rates).endswith(
      '\n- ' + report.headline(summary))


def _runs(evolution_test, random_test, *, examples=400, lrs=(1e-2, 1e-2)):
  """Searches whose picks have the given test errors (one per search seed),
  made of that many errors on `examples` test examples (none kept: 0), at
  the learning rates `lrs` (evolution's, random search's)."""
  rng = np.random.default_rng(0)

  def errors(e):
    row = np.zeros((1, examples))
    row[0, rng.choice(examples, round(e * examples), replace=False)] = 1
    return runner.encode_examples(row)

  def runs(method, errors_, lr):
    return [report.SearchRun(
        method=method, search_seed=s, best_so_far=(0.3,),
        candidates=(report.Candidate(1, 16, 'relu', lr, 826, 0.3),),
        pick=report.Pick(arch=f'1x16 relu lr={lr:g}', depth=1, width=16,
                         activation='relu', learning_rate=lr, params=826,
                         val_error=0.3, test_error=e, optimism=e - 0.3,
                         found_at=1,
                         test_examples=errors(e) if examples else ''))
            for s, e in enumerate(errors_)]
  return runs('evolution', evolution_test, lrs[0]) + runs(
      'random', random_test, lrs[1])


SPACE = (3e-3, 1e-2, 3e-2)


def _summary(runs):
  """The runs as results.json holds them."""
  return runner.to_json({'runs': runs, 'candidates_per_search': 6,
                         'space_size': 6,
                         'config': {'search_learning_rates': SPACE}})


@pytest.mark.parametrize('ev,rs,outcome,difference', [
    ((0.30, 0.31, 0.32), (0.40, 0.41, 0.42), 'supported', -0.10),
    ((0.40, 0.41, 0.42), (0.30, 0.31, 0.32), 'contradicted', 0.10),
    ((0.30, 0.40, 0.35), (0.45, 0.35, 0.40), 'inconclusive', -0.05),
    # One search seed each: no interval, whatever the difference.
    ((0.89,), (0.775,), 'inconclusive', 0.115),
])
def test_evolution_against_random_reaches_each_outcome(ev, rs, outcome,
                                                       difference):
  runs = _runs(ev, rs)
  c = report.evolution_beats_random(runs)
  assert c.verdict == outcome
  assert c.difference == pytest.approx(difference)
  # Paired over the picks' 400 shared test examples.
  assert c.seeds == (len(ev), len(rs)) and c.examples == 400
  assert np.isfinite(c.low) == (len(ev) > 1)
  if len(ev) > 1:
    assert c.low < difference < c.high
  o = report.outcome(runs, SPACE)
  assert o.verdict == outcome and o.comparison == c and o.edge == ''
  assert o.evolution_test - o.random_test == pytest.approx(difference)
  lines = report.verdict(runs, 6, 6, SPACE).splitlines()
  assert [l.split(':')[0] for l in lines] == [
      '- evolution', '- random', '- Evolution vs random search on the picks\' '
      'test error, ' + f'{100 * np.mean(ev):.2f}% vs {100 * np.mean(rs):.2f}%']
  assert c.describe('evolution', 'random', scale=100,
                    unit='points') in lines[-1]
  summary = _summary(runs)
  assert report.runs_of(summary) == runs
  assert report.headline(summary) == lines[-1][2:]
  assert report.outcome_sentence(o, 6) == lines[-1][2:]


def test_picks_without_test_examples_are_compared_over_seeds_alone():
  runs = _runs((0.30, 0.31, 0.32), (0.40, 0.41, 0.42), examples=0)
  c = report.evolution_beats_random(runs)
  assert c.examples == 0 and c.verdict == 'supported'
  assert c == stats.compare([0.30, 0.31, 0.32], [0.40, 0.41, 0.42],
                            higher_is_better=False)


@pytest.mark.parametrize('lrs,space,ends', [
    ((3e-2, 3e-2), SPACE, {'evolution': (3e-2, 3), 'random': (3e-2, 3)}),
    ((3e-3, 1e-2), SPACE, {'evolution': (3e-3, 3)}),
    ((1e-2, 1e-2), SPACE, {}),          # Inside the space: bracketed.
    ((1e-2, 1e-2), (1e-2,), {}),        # One rate: no end to sit at.
])
def test_the_edge_note_names_picks_at_an_end_of_the_space(lrs, space, ends):
  runs = _runs((0.30, 0.31, 0.32), (0.40, 0.41, 0.42), lrs=lrs)
  note = report.edge_note(runs, space)
  assert (note != '') == bool(ends)
  for method, (lr, n) in ends.items():
    assert f'{method} picked lr={lr:g} in {n} of 3 searches' in note
  if ends:
    assert f'{min(space):g}..{max(space):g}' in note
  o = report.outcome(runs, space)
  assert o.edge == note and o.verdict == 'supported'
  summary = runner.to_json({'runs': runs, 'candidates_per_search': 6,
                            'space_size': 6,
                            'config': {'search_learning_rates': space}})
  # Beside the verdict, in the verdict section and the headline.
  assert report.headline(summary).endswith(
      f': supported{note}. The space holds 6 candidates.')
  assert report.verdict(runs, 6, 6, space).endswith(report.headline(summary))


def test_the_default_space_spans_every_rate_picked_before():
  """Picks sat at the top of (1e-3..1e-2), then of (3e-3..3e-2), then of
  (3e-3..1e-1): the default spans 3e-3..0.3, and each rate adds the same
  shapes (84 candidates per 3 rates before: 28 a rate)."""
  config = search_config.get_config()
  old = search_config.get_config()
  old.search_learning_rates = (3e-3, 1e-2, 3e-2)
  assert tuple(config.search_learning_rates) == (3e-3, 1e-2, 3e-2, 0.1, 0.3)
  size = lambda c: len(search_config.make_space(c, 40, 10).all())
  assert size(old) == 84 and size(config) == 140


def test_the_anchor_cites_no_numbers():
  """No published table to reproduce, so nothing to check against
  deepvsshallow/reference: the anchor names the method and its baseline."""
  assert architecture_search.STUDY.chapter.anchor == report.anchor()
  assert 'Real et al. 2019' in report.anchor()
  assert not any(ch.isdigit() for ch in report.anchor().replace('2019', ''))


def test_one_method_alone_has_no_comparison():
  runs = [r for r in _runs((0.3, 0.4), ()) if r.method == 'evolution']
  assert report.outcome(runs, SPACE) is None
  text = report.verdict(runs, 6, 6, SPACE)
  assert text.startswith('- evolution: after 6 candidates')
  assert '\n' not in text   # The method's line, and no comparison.
  (m,) = report.method_summaries(runs)
  assert (m.method, m.searches) == ('evolution', 2)
  assert m.test_error[0] == pytest.approx(0.35)
  assert report.headline(_summary(runs)) == report.NO_OUTCOME
