"""The architecture search study: its checks, zero-padded candidates that
train exactly as their narrow nets, its :runlocal run (every search trains
its candidates within the budget and picks on validation), and the
evolution-against-random verdicts on constructed summaries. The searches
themselves (evolution, random search, the space) are tested in
test_selection_search.py."""

import collections
import dataclasses
import functools
import json
import os

import jax
import numpy as np
import pytest
from flax import nnx

from conftest import (launch, refused, tensorboard_logdir, unread_fields,
                      xla_flags)
from deepvsshallow import config as config_lib
from deepvsshallow import data, evolution, models, runner, stats, train
from deepvsshallow.studies import architecture_search
from deepvsshallow.studies.architecture_search import experiment, report

search_config = architecture_search.config


@pytest.mark.parametrize('overrides,field', [
    (dict(generations=0), 'generations'),
    (dict(budget=100), 'budget'),                 # Below the smallest MLP.
    (dict(sample_size=9), 'sample_size'),         # Larger than the population.
    (dict(methods=('evolution', 'annealing')), 'methods'),
    (dict(activations=('relu', 'swish')), 'activations'),
    # sigmoid(0) = 0.5: a zero-padded unit would not stay zero.
    (dict(activations=('relu', 'sigmoid')), 'activations'),
    (dict(widths=(16, 0)), 'widths'),
    (dict(search_seeds=0), 'search_seeds'),
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
                                 evolution.Arch((16,), 'relu', 1e-3))
  assert smallest == 40 * 16 + 16 + 16 * 10 + 10
  assert line.startswith('config.budget=100') and f'({smallest})' in line


@pytest.mark.parametrize('optimizer', [
    # Adam's moments plus decoupled weight decay, which moves every weight:
    # a zero must stay zero under both (plain Adam is adamw without decay).
    dict(optimizer='adamw', weight_decay=0.1),
])
def test_a_padded_member_trains_as_its_narrow_net(digits, tmp_path,
                                                  optimizer):
  """Four narrow nets of one depth, two relu and two hard_sigmoid,
  zero-padded into the space's widest and trained as one population (one
  program) through the runner, equal each narrow `models.MLP` trained
  alone from the same seed; the padded units end at exactly zero."""
  ds = dataclasses.replace(digits, name='digits-small', train=data.Split(
      digits.train.inputs[:256], digits.train.targets[:256]))
  space = evolution.Space(input_dim=ds.input_dim, num_classes=10,
                          budget=10**6, depths=(3,), widths=(8, 16, 32))
  archs = [evolution.Arch((8, 32, 16), 'relu', 1e-2),
           evolution.Arch((32, 8, 8), 'hard_sigmoid', 3e-3),
           evolution.Arch((16, 16, 32), 'relu', 3e-2),
           evolution.Arch((16, 32, 16), 'hard_sigmoid', 3e-2)]
  seeds = [3, 5, 7, 9]
  assert space.padded_widths(3) == (32, 32, 32)
  schema = config_lib.schema(config_lib.one_dataset('digits'), {},
                             candidates=False)
  c = schema.config(num_epochs=3, batch_size=32, progress=False, shard=False,
                    matmul_precision='highest', **optimizer)
  with runner.Run('t', c, str(tmp_path), schema=schema) as run:
    picked, = run.train_all([runner.Population(
        'padded', experiment.padded_model_fn(space, 3), ds,
        members=(seeds, [a.learning_rate for a in archs]),
        evaluate_pick=False, initial=experiment._stack(
            [experiment.padded_initial(a, s, space)
             for a, s in zip(archs, seeds)]))])
  together = picked.result
  settings = train.TrainSettings.from_config(c)
  for m, (arch, seed) in enumerate(zip(archs, seeds)):
    alone = train.train_population(
        functools.partial(models.MLP, ds.input_dim, arch.widths, 10,
                          activation=arch.activation), ds, [seed],
        [arch.learning_rate], settings)
    np.testing.assert_allclose(together.history['train_loss'][:, m],
                               alone.history['train_loss'][:, 0], rtol=1e-5)
    assert together.best_val[m] == alone.best_val[0]
    assert together.best_epoch[m] == alone.best_epoch[0]

    def same(wide, narrow):
      wide, narrow = np.asarray(wide)[m], np.asarray(narrow)[0]
      inside = tuple(slice(0, n) for n in narrow.shape)
      np.testing.assert_allclose(wide[inside], narrow, rtol=1e-5, atol=1e-6)
      outside = np.ones(wide.shape, bool)
      outside[inside] = False
      assert np.all(wide[outside] == 0)
      return outside.sum()
    padded = sum(jax.tree.leaves(jax.tree.map(same, together.best_params,
                                              alone.best_params)))
    # The padded entries: 32*3 per layer's units less the narrow net's.
    assert padded == (space.param_count(evolution.Arch((32,) * 3, 'relu',
                                                       1e-2))
                      - space.param_count(arch))


def test_initial_params_pad_to_the_device_count_member_by_member():
  """Several devices: a population is padded to a multiple of their count
  by repeating its last member, whole (every rank of parameter)."""
  kernels = np.arange(3 * 4 * 5).reshape(3, 4, 5)
  padded = train._pad_population(kernels, 2)
  assert padded.shape == (4, 4, 5)
  np.testing.assert_array_equal(padded[3], kernels[2])
  assert train._pad_population(kernels, 3) is kernels
  # The study's population sizes: powers of two and 1.5 times them, so
  # that at most a third of a population is padding.
  sizes = [experiment._padded(n) for n in range(1, 200)]
  assert sorted(set(sizes)) == [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64,
                                96, 128, 192, 256]
  assert all(n <= size < 1.5 * n + 1 for n, size in enumerate(sizes, 1))


def test_padded_params_start_as_the_narrow_net_would():
  """The narrow net's own initialisation (its seed's stream 0, He scale of
  its own fan-in), zeros around it."""
  space = evolution.Space(input_dim=40, num_classes=10, budget=10**6)
  arch = evolution.Arch((16, 64, 32), 'relu', 1e-2)
  padded, rest = experiment.padded_initial(arch, 11, space)
  assert [np.asarray(x).tolist() for x in jax.tree.leaves(rest)] == [
      [1.0, 0.0]]     # Its switch: relu, the space's first activation.
  narrow = nnx.state(models.MLP(40, arch.widths, 10, rngs=nnx.Rngs(
      params=train.member_key(11, 0))), nnx.Param)
  kernels = [np.asarray(padded['hidden'][i]['kernel'][...])
             for i in range(3)]
  assert [k.shape for k in kernels] == [(40, 64), (64, 64), (64, 64)]
  np.testing.assert_array_equal(kernels[1][:16, :64],
                                narrow['hidden'][1]['kernel'][...])
  assert not kernels[1][16:].any() and not kernels[0][:, 16:].any()
  # He scale of the narrow fan-in (16), not the padded one (64).
  assert np.std(kernels[1][:16, :64]) == pytest.approx(np.sqrt(2 / 16),
                                                       rel=0.15)


@pytest.mark.slow
def test_each_candidate_is_its_own_hparams_session(runlocal):
  """A population holds candidates of several widths: each candidate's
  session (read back by TensorBoard) has its own search, widths,
  activation, parameter count and best validation error, as results.json
  lists them; a member repeated to pad a population is not a second
  session."""
  run = runlocal('architecture_search')
  summary = json.loads((run.workdir / 'results.json').read_text())
  expected = sorted(
      (f'{r["method"]} seed {r["search_seed"]}',
       'x'.join(map(str, c['widths'])), c['activation'], c['learning_rate'],
       c['params'], None if c['val_error'] is None else round(
           c['val_error'], 5))
      for r in summary['runs'] for c in r['candidates'])
  _, runs = tensorboard_logdir(run.workdir / 'tensorboard')
  sessions = sorted(
      (hp['search'], hp['hidden_widths'], hp['activation'],
       hp['learning_rate'], hp['param_count'],
       round(scalars['hparams/best_validation_error'][0][1], 5)
       if 'hparams/best_validation_error' in scalars else None)
      for hp, scalars in runs.values())
  assert sessions == expected
  for hp, _ in runs.values():
    widths = [int(w) for w in hp['hidden_widths'].split('x')]
    assert (hp['depth'], hp['width']) == (len(widths), max(widths))


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
  assert summary['budgets'] == [config.population_size, per_search]
  space = search_config.make_space(config, 40, 10)
  assert summary['space_size'] == space.size == 18   # (2 + 4) x 1 x 3.
  runs = report.runs_of(summary)
  assert len(runs) == len(config.methods) * config.search_seeds
  for r in runs:
    assert len(r.candidates) == len(r.best_so_far) == per_search
    for c in r.candidates:
      arch = evolution.Arch(c.widths, c.activation, c.learning_rate)
      assert space.fits(arch) and c.depth == len(c.widths)
      # The narrow net's own count, not the padded shape's.
      assert c.params == space.param_count(arch) <= config.budget
    vals = [c.val_error for c in r.candidates]
    assert list(r.best_so_far) == list(np.fmin.accumulate(vals))
    lead = report.leaders(vals)
    # The best so far, and only it, was tested: its test error the mean of
    # its errors on the test examples.
    assert {i for i, c in enumerate(r.candidates)
            if c.test_examples} == set(lead)
    assert list(r.best_so_far_test) == [r.candidates[i].test_error
                                        for i in lead]
    for i in set(lead):
      c = r.candidates[i]
      assert runner.decode_examples(c.test_examples).mean() == (
          pytest.approx(c.test_error, abs=1e-6))
    assert r.pick.val_error == min(vals)
    assert r.candidates[r.pick.found_at - 1].val_error == r.pick.val_error
    assert r.pick.test_error == r.best_so_far_test[-1]
    assert 0 <= r.pick.test_error <= 1
    assert r.pick.optimism == pytest.approx(
        r.pick.test_error - r.pick.val_error)
  assert '| method | search seed | pick |' in run.output
  assert '| candidates | evolution best val err % |' in run.output
  # The stored runs render the same report the run wrote.
  assert report.render_markdown(summary) == (
      run.workdir / 'results.md').read_text()
  o = report.outcome(runs, summary['config'])
  assert o.comparison.seeds == (config.search_seeds, config.search_seeds)
  assert o.evolution_test == pytest.approx(np.mean(
      [r.pick.test_error for r in runs if r.method == 'evolution']))
  errors = np.concatenate([runner.decode_examples(r.pick.test_examples)
                           for r in runs])
  assert o.comparison.examples == errors.shape[1] > 0
  rows = report.anytime(runs, summary['budgets'])
  assert rows[-1].comparison == o.comparison
  assert rows[-1].test['random'][0] == pytest.approx(o.random_test)
  assert report.verdict(runs, per_search, summary['space_size'],
                        summary['config']).endswith(
      '\n- ' + report.headline(summary))
  # One training program per (depth, population size), whatever the
  # widths and activations of its members.
  sizes = collections.Counter(json.loads(line)['name'] for line in (
      run.workdir / 'trials.jsonl').read_text().splitlines())
  assert summary['compile']['training'] == len(
      {(name.split()[-1], n) for name, n in sizes.items()})


@pytest.mark.slow
def test_the_launcher_on_three_devices_searches_alike(runlocal, tmp_path,
                                                      tfds_dir):
  """The launcher at :runlocal with 3 CPU devices: every population is
  padded to a multiple of 3 (members and their initial states alike) and
  sharded, and each search trains the same candidates to the same
  validation errors as the in-process run on one device."""
  proc = launch('architecture_search', '--config=:runlocal',
                f'--workdir={tmp_path / "run"}',
                env={'TFDS_DATA_DIR': tfds_dir, 'XLA_FLAGS': xla_flags(3)})
  assert proc.returncode == 0, proc.stderr[-3000:]
  three = json.loads((tmp_path / 'run' / 'results.json').read_text())
  one = json.loads((runlocal('architecture_search').workdir
                    / 'results.json').read_text())
  assert three['platform']['devices'] == 3
  for a, b in zip(report.runs_of(three), report.runs_of(one), strict=True):
    assert [(c.widths, c.activation, c.learning_rate)
            for c in a.candidates] == [(c.widths, c.activation,
                                        c.learning_rate)
                                       for c in b.candidates]
    np.testing.assert_allclose([c.val_error for c in a.candidates],
                               [c.val_error for c in b.candidates],
                               atol=1e-6)


SPACE_CFG = {'search_learning_rates': (3e-3, 1e-2, 3e-2), 'depths': (1, 2),
             'widths': (16, 32)}


def _runs(evolution_test, random_test, *, examples=400, lrs=(1e-2, 1e-2),
          widths=((16,), (16,)), budget=2):
  """Searches of `budget` candidates whose best (the last) has the given
  test errors (one per search seed), made of that many errors on
  `examples` test examples (none kept: 0), at the learning rates `lrs` and
  widths `widths` (evolution's, random search's). The first candidate of
  each is worse on validation and on test (0.9)."""
  rng = np.random.default_rng(0)

  def errors(e):
    row = np.zeros((1, examples))
    row[0, rng.choice(examples, round(e * examples), replace=False)] = 1
    return runner.encode_examples(row)

  def runs(method, errors_, lr, ws):
    out = []
    for s, e in enumerate(errors_):
      first = report.Candidate(1, (16,), 'relu', lr, 826, 0.5, 0.9,
                               errors(0.9) if examples else '')
      last = report.Candidate(len(ws), ws, 'relu', lr, 826, 0.3, e,
                              errors(e) if examples else '')
      middle = report.Candidate(1, (16,), 'relu', lr, 826, 0.6)
      cands = (first,) + (middle,) * (budget - 2) + (last,)
      out.append(report.SearchRun(
          method=method, search_seed=s,
          best_so_far=(0.5,) * (budget - 1) + (0.3,),
          best_so_far_test=(0.9,) * (budget - 1) + (e,), candidates=cands,
          pick=report.Pick(arch=f'{ws} relu lr={lr:g}', depth=len(ws),
                           widths=ws, activation='relu', learning_rate=lr,
                           params=826, val_error=0.3, test_error=e,
                           optimism=e - 0.3, found_at=budget,
                           test_examples=last.test_examples)))
    return out
  return runs('evolution', evolution_test, lrs[0], widths[0]) + runs(
      'random', random_test, lrs[1], widths[1])


def _summary(runs, cfg=SPACE_CFG, budgets=(1, 2)):
  """The runs as results.json holds them."""
  return runner.to_json({'runs': runs, 'candidates_per_search': budgets[-1],
                         'space_size': 18, 'budgets': list(budgets),
                         'config': cfg})


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
  o = report.outcome(runs, SPACE_CFG)
  assert o.verdict == outcome and o.comparison == c and o.edge == ''
  assert o.evolution_test - o.random_test == pytest.approx(difference)
  lines = report.verdict(runs, 2, 18, SPACE_CFG).splitlines()
  assert [l.split(':')[0] for l in lines] == [
      '- evolution', '- random', '- Evolution vs random search on the picks\' '
      'test error after 2 candidates each, '
      + f'{100 * np.mean(ev):.2f}% vs {100 * np.mean(rs):.2f}%']
  assert c.describe('evolution', 'random', scale=100,
                    unit='points') in lines[-1]
  summary = _summary(runs)
  assert report.runs_of(summary) == runs
  assert report.headline(summary) == lines[-1][2:]
  assert report.outcome_sentence(o, 18, 2) == lines[-1][2:]


def test_the_anytime_rows_compare_the_best_so_far_at_each_budget():
  """After one candidate both sides hold their first (0.9 on test, the
  same errors drawn for every search: a difference of 0); after two, the
  picks."""
  runs = _runs((0.30, 0.31, 0.32), (0.40, 0.41, 0.42), budget=3)
  rows = report.anytime(runs, (1, 2, 3))
  assert [r.budget for r in rows] == [1, 2, 3]
  for r in rows[:2]:
    assert r.val['evolution'] == (0.5, 0.5, 0.5)
    assert r.test['random'][0] == pytest.approx(0.9)
    assert abs(r.comparison.difference) < 0.01
  assert rows[2].comparison == report.evolution_beats_random(runs)
  mean, low, high = rows[2].test['evolution']
  # Student's t with 2 degrees of freedom: 4.303 standard errors.
  assert mean == pytest.approx(0.31)
  assert high - mean == pytest.approx(4.303 * 0.01 / np.sqrt(3), rel=1e-3)
  table = report.anytime_table(rows)
  assert table.splitlines()[-1].startswith(
      '| 3 | 30.00 [30.00, 30.00] | 30.00 [30.00, 30.00] | 31.00 [28.52, '
      '33.48] | 41.00 [38.52, 43.48] | -10.00 [')
  assert table.splitlines()[-1].endswith(': supported |')
  # A one-seed mean has no interval.
  assert np.isnan(report.mean_interval([0.3])[1])


def test_leaders_skip_diverged_candidates_and_keep_the_earliest_tie():
  assert report.leaders([None, 0.5, np.nan, 0.5, 0.4, 0.45]) == [
      -1, 1, 1, 1, 4, 4]


def test_picks_without_test_examples_are_compared_over_seeds_alone():
  runs = _runs((0.30, 0.31, 0.32), (0.40, 0.41, 0.42), examples=0)
  c = report.evolution_beats_random(runs)
  assert c.examples == 0 and c.verdict == 'supported'
  assert c == stats.compare([0.30, 0.31, 0.32], [0.40, 0.41, 0.42],
                            higher_is_better=False)


@pytest.mark.parametrize('lrs,widths,said', [
    ((3e-2, 3e-2), ((16,), (16,)), ['evolution picked lr=0.03 in 3 of 3',
                                     'random picked lr=0.03 in 3 of 3']),
    ((3e-3, 1e-2), ((16,), (16,)), ['evolution picked lr=0.003 in 3 of 3']),
    # The deepest and the widest of the space: (1, 2) and (16, 32).
    ((1e-2, 1e-2), ((16, 32), (16,)), [
        'evolution picked depth 2 (the deepest) in 3 of 3, a layer of 32 '
        '(the widest) in 3 of 3']),
    ((1e-2, 1e-2), ((16,), (16,)), []),       # Inside the space: bracketed.
])
def test_the_edge_note_names_picks_at_an_end_of_the_space(lrs, widths, said):
  runs = _runs((0.30, 0.31, 0.32), (0.40, 0.41, 0.42), lrs=lrs,
               widths=widths)
  note = report.edge_note(runs, SPACE_CFG)
  assert (note != '') == bool(said)
  for s in said:
    assert s in note
  o = report.outcome(runs, SPACE_CFG)
  assert o.edge == note and o.verdict == 'supported'
  summary = _summary(runs)
  # Beside the verdict, in the verdict section and the headline.
  assert report.headline(summary).endswith(
      f': supported{note}. The space holds 18 candidates.')
  assert report.verdict(runs, 2, 18, SPACE_CFG).endswith(
      report.headline(summary))
  # One learning rate, depth and width: no end to sit at.
  alone = {'search_learning_rates': (lrs[0],), 'depths': (2,),
           'widths': (16,)}
  assert report.edge_note(runs, alone) == ''


def test_the_default_space_is_large_and_counted():
  """At least 10^4 candidates (the issue's floor), counted exactly; the
  learning rates span every rate picked before (3e-3..0.3)."""
  config = search_config.get_config()
  space = search_config.make_space(config, 40, 10)
  assert space.size == 94_910 and space.depths == tuple(range(1, 9))
  assert tuple(config.search_learning_rates) == (3e-3, 1e-2, 3e-2, 0.1, 0.3)
  assert config.search_seeds == 10
  assert config.population_size + (
      config.generations * config.children_per_generation) == 64
  assert '94,910 candidates' in search_config.__doc__


def test_the_anchor_cites_no_numbers():
  """No published table to reproduce, so nothing to check against
  deepvsshallow/reference: the anchor names the method and its baseline."""
  assert architecture_search.STUDY.chapter.anchor == report.anchor()
  assert 'Real et al. 2019' in report.anchor()
  assert not any(ch.isdigit() for ch in report.anchor().replace('2019', ''))


def test_one_method_alone_has_no_comparison():
  runs = [r for r in _runs((0.3, 0.4), ()) if r.method == 'evolution']
  assert report.outcome(runs, SPACE_CFG) is None
  text = report.verdict(runs, 2, 18, SPACE_CFG)
  assert text.startswith('- evolution: after 2 candidates')
  assert '\n' not in text   # The method's line, and no comparison.
  (m,) = report.method_summaries(runs)
  assert (m.method, m.searches) == ('evolution', 2)
  assert m.test_error[0] == pytest.approx(0.35)
  assert report.headline(_summary(runs)) == report.NO_OUTCOME
  assert all(r.comparison is None for r in report.anytime(runs, (1, 2)))
