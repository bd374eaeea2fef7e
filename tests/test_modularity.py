"""The modularity study: its data, its decisions, its checks, the verdicts
on constructed rows (every outcome) and its own :runlocal run."""

import dataclasses
import json
import os
import re

import numpy as np
import pytest

from conftest import launch, mock_data, refused, unread_fields
from deepvsshallow import data, params, reference, runner, stats
from deepvsshallow.studies import modularity
from deepvsshallow.studies.modularity import experiment, report

mod_config = modularity.config


def _toy_split(counts, seed=0):
  groups = np.repeat(np.arange(4), counts)
  groups = groups[np.random.default_rng(seed).permutation(len(groups))]
  attrs = np.stack([groups // 2, groups % 2], 1).astype(np.int32)
  return data.Split(np.arange(len(groups))[:, None], attrs)


def test_subsample_gives_exact_nested_group_counts():
  pool = _toy_split([50, 50, 50, 20])
  small = experiment.subsample(pool, [30, 30, 30, 3], seed=0)
  large = experiment.subsample(pool, [30, 30, 30, 15], seed=0)
  np.testing.assert_array_equal(
      np.bincount(experiment.groups_of(small.targets), minlength=4),
      [30, 30, 30, 3])
  np.testing.assert_array_equal(
      np.bincount(experiment.groups_of(large.targets), minlength=4),
      [30, 30, 30, 15])
  # The smaller set is inside the larger one (ids are the inputs here).
  assert set(small.inputs[:, 0]) <= set(large.inputs[:, 0])


def test_the_rendered_pool_has_the_requested_counts_and_proportions():
  config = mod_config.get_config('rendered,runlocal')
  pool = experiment.rendered_pool(config)
  counts = lambda s: np.bincount(experiment.groups_of(s.targets),
                                 minlength=4).tolist()
  assert counts(pool.train) == [60, 60, 60, 5]
  # val_fraction 0.15 of train + validation: 60 -> 11, 5 -> 1.
  assert counts(pool.validation) == [11, 11, 11, 1]
  assert counts(pool.base.test()) == [40, 40, 40, 40]
  assert pool.train.inputs.shape == (185, 16, 16, 1)
  assert pool.train.inputs.dtype == np.uint8


def _assert_runlocal_counts(pool, test):
  """:runlocal's counts per group: 60 of each common group and 5 rare in
  training, the same proportions in validation (val_fraction 0.15), 40 of
  each in test."""
  counts = lambda s: np.bincount(experiment.groups_of(s.targets),
                                 minlength=4).tolist()
  assert counts(pool.train) == [60, 60, 60, 5]
  assert counts(pool.validation) == [11, 11, 11, 1]
  assert counts(test) == [40, 40, 40, 40]


def test_the_mnist1d_pool_deals_genuine_signals_once_each():
  """Counts per group and split as asked; every example is an MNIST-1D
  signal of its digit group, reversed in time exactly when its second
  attribute says so (checked against the generator's own output); no
  signal is in two splits."""
  config = mod_config.get_config('mnist1d,runlocal')
  assert config.source == 'mnist1d'
  pool = experiment.mnist1d_pool(config)
  test = pool.base.test()
  _assert_runlocal_counts(pool, test)
  ref = data.generate_mnist1d(
      int(2.4 * (2 * 60 + 2 * 11 + 2 * 40)) + 100, config.data_seed)
  rows = {np.asarray(x, np.float32).tobytes(): int(y >= 5) for x, y in zip(
      np.concatenate([ref['x'], ref['x_test']]),
      np.concatenate([ref['y'], ref['y_test']]))}
  seen = set()
  for split in (pool.train, pool.validation, test):
    for x, (high, reversed_) in zip(split.inputs[:, :, 0, 0], split.targets):
      original = (x[::-1] if reversed_ else x).astype(np.float32).tobytes()
      assert rows[original] == high
      assert original not in seen
      seen.add(original)
  assert len(seen) == 185 + 34 + 160


def test_thicken_grows_each_stroke_by_one_pixel_on_every_side():
  image = np.zeros((1, 6, 6, 1), np.uint8)
  image[0, 0, 0, 0] = 200          # A corner: the border counts as 0.
  image[0, 3, 3, 0] = 100
  got = experiment.thicken(image)[0, :, :, 0]
  want = np.zeros((6, 6), np.uint8)
  want[2:5, 2:5] = 100
  want[0:2, 0:2] = 200
  np.testing.assert_array_equal(got, want)


def test_the_mnist5k_pool_deals_real_digits_once_each(tfds_dir):
  """Counts per group and split as asked; every example is one of
  mnist5k's digits of its digit group, thickened exactly when its second
  attribute says so; train and validation come from mnist5k's train split,
  test from its test split; no digit is used twice."""
  config = mod_config.get_config('mnist5k,runlocal')
  config.data_dir = tfds_dir
  run = type('Run', (), {'config': config, 'load_dataset':
                         lambda self, name: data.load_dataset(
                             name, data_dir=tfds_dir)})()
  pool = experiment.mnist5k_pool(run)
  test = pool.base.test()
  _assert_runlocal_counts(pool, test)
  ds = data.load_dataset('mnist5k', data_dir=tfds_dir)
  def index(splits):
    out = {}
    for s in splits:
      for x, y in zip(s.inputs, s.targets):
        out[x.tobytes()] = (x, int(y >= 5))
    return out
  train_side = index([ds.train, ds.validation])
  test_side = index([ds.test()])
  thick = {experiment.thicken(x[None])[0].tobytes(): key
           for key, (x, _) in {**train_side, **test_side}.items()}
  seen = set()
  for split, side in ((pool.train, train_side),
                      (pool.validation, train_side), (test, test_side)):
    for x, (high, thick_) in zip(split.inputs, split.targets):
      key = thick[x.tobytes()] if thick_ else x.tobytes()
      assert side[key][1] == high
      assert key not in seen
      seen.add(key)
  assert len(seen) == 185 + 34 + 160


def test_decisions_read_from_each_approach():
  flat = np.array([[0.1, 2.0, 0.0, -1.0], [3.0, 0.0, 0.0, 4.0]])
  np.testing.assert_array_equal(experiment.decide('flat', flat), [1, 3])
  # Modular: group = 2 * (shape logit > 0) + (texture logit > 0).
  heads = np.array([[-1.0, -2.0], [-1.0, 0.5], [2.0, -0.1], [0.3, 0.2]])
  np.testing.assert_array_equal(experiment.decide('modular', heads),
                                [0, 1, 2, 3])
  ovr = [np.array([[0.0], [5.0]]), np.array([[1.0], [0.0]]),
         np.array([[-3.0], [0.0]]), np.array([[0.5], [6.0]])]
  np.testing.assert_array_equal(experiment.decide('one_vs_rest', ovr),
                                [1, 3])
  # A weighted approach decides as its unweighted one.
  np.testing.assert_array_equal(experiment.decide('flat_weighted', flat),
                                [1, 3])
  np.testing.assert_array_equal(
      experiment.decide('one_vs_rest_weighted', ovr), [1, 3])


def test_the_weighted_baselines_weigh_each_class_by_its_inverse_frequency():
  """Training counts 60, 60, 60 and 5 (185 examples): the flat net's
  weights are 185 / (4 n_g); group 3's binary net sees 5 positives and 180
  negatives: 185 / (2 * 180) and 185 / (2 * 5). Unweighted approaches keep
  the dataset's own task."""
  config = mod_config.get_config('rendered,runlocal')
  pool = experiment.rendered_pool(config)
  train = experiment.subsample(pool.train, [60, 60, 60, 5], 0)
  val = experiment.subsample(pool.validation, [11, 11, 11, 1], 0)
  _, task = experiment._dataset(pool.base, train, val, 'flat_weighted')
  assert task.name == ('classification/class_weights={0},{0},{0},9.25'
                       '/select_on=loss').format(f'{185 / 240:.6g}')
  _, task = experiment._dataset(pool.base, train, val,
                                'one_vs_rest_weighted', 3)
  assert task.name == (f'binary/class_weights={185 / 360:.6g},18.5'
                       '/select_on=loss')
  for approach in ('flat', 'modular', 'one_vs_rest'):
    assert experiment._dataset(pool.base, train, val, approach, 0)[1] is None


def test_approaches_have_matched_parameter_counts():
  config = mod_config.get_config('')
  shapes = experiment.approach_models(config, 256)
  flat = shapes['flat'][2]
  for approach, (model_fn, _, count) in shapes.items():
    assert params.model_param_count(model_fn) * (
        4 if experiment.unweighted(approach) == 'one_vs_rest' else 1) == count
    assert abs(count - flat) / flat < 0.02, approach


@pytest.mark.parametrize('overrides,field', [
    (dict(rare_counts=(5, 2000)), 'rare_counts'),
    (dict(attributes=('shape', 'hair_colour')), 'attributes'),
    (dict(attributes=('shape', 'shape')), 'attributes'),
    (dict(source='imagenet'), 'source'),
    (dict(approaches=('flat', 'ensemble')), 'approaches'),
    (dict(test_per_group=0), 'test_per_group'),
    (dict(source='mnist5k', attributes=('high_digit', 'thick'),
          test_per_group=251), 'test_per_group'),
    (dict(source='mnist5k', attributes=('high_digit', 'thick'),
          train_per_group=900), 'train_per_group'),
    (dict(image_size=4), 'image_size'),
    (dict(activation='tanh'), 'activation'),
])
def test_bad_configs_are_refused(tmp_path, overrides, field):
  config = mod_config.get_config('runlocal')
  config.update(overrides)
  message = refused(modularity.train_and_evaluate, config,
                    tmp_path / 'never')
  assert message.startswith(f'config.{field}')


def test_every_source_default_is_valid():
  # celeb_a has no test_per_group of its own (its test split is CelebA's).
  for arg in ('', 'runlocal', 'celeb_a', 'celeb_a,runlocal', 'mnist5k',
              'mnist5k,runlocal', 'mnist1d'):
    assert not modularity.STUDY.fields.problems(mod_config.get_config(arg))


def test_launcher_unknown_approach_is_one_line_and_exit_2(tmp_path):
  proc = launch('modularity', "--config.approaches=('flat','ensemble')",
                f'--workdir={tmp_path / "never"}', timeout=120)
  assert proc.returncode == 2, proc.stderr[-2000:]
  lines = [l for l in proc.stderr.splitlines() if l.strip()]
  assert len(lines) == 1 and 'config.approaches' in lines[0]
  assert not (tmp_path / 'never').exists()


def test_unprepared_celeb_a_says_how_to_get_it(tmp_path):
  config = mod_config.get_config('celeb_a,runlocal')
  config.data_dir = str(tmp_path / 'tfds')
  message = refused(modularity.train_and_evaluate, config,
                    tmp_path / 'never')
  for needle in ("'celeb_a' is not prepared", 'download it by hand',
                 'tfds build celeb_a --manual_dir'):
    assert needle in message


def test_celeb_a_through_tfds_mock(tmp_path, monkeypatch):
  monkeypatch.setitem(data.DATASETS, 'celeb_a', dataclasses.replace(
      data.DATASETS['celeb_a'], manual=''))
  monkeypatch.setattr(data, '_unreachable_hosts', lambda *a: [])
  with mock_data(num_examples=20):
    ds = data.load_dataset('celeb_a', data_dir=str(tmp_path),
                           val_fraction=0.25)
    test = ds.test()
  assert ds.train.inputs.shape == (15, 32, 32, 3)
  assert ds.train.targets.shape == (15, 40)
  assert test.targets.shape == (20, 40)
  assert set(np.unique(ds.train.targets)) <= {0, 1}
  # A rare count above what CelebA holds is refused in one line.
  config = mod_config.get_config('celeb_a,runlocal')
  config.data_dir = str(tmp_path)
  config.rare_counts = (50,)   # Mock data: 20 faces in all.
  with mock_data(num_examples=20):
    message = refused(modularity.train_and_evaluate, config,
                      tmp_path / 'never')
  assert 'rare-group training examples, but CelebA' in message


@pytest.mark.slow
def test_runlocal_every_field_is_read_and_every_approach_scored(runlocal):
  config = mod_config.get_config('runlocal')
  run = runlocal('modularity')
  workdir = run.workdir
  # The rendered source's alone: mnist5k's digits are 28x28.
  # (grid_extensions is read through config.get, which ReadTracker misses.)
  assert unread_fields(run, 'modularity') - {'grid_extensions'} == {
      'image_size'}
  summary = json.loads((workdir / 'results.json').read_text())
  rows = report.rows_of(summary)
  assert [(r.rare_count, r.approach) for r in rows] == [
      (5, a) for a in mod_config.APPROACHES]
  assert summary['test_group_counts'] == [40, 40, 40, 40]
  for r in rows:
    assert r.done
    # Balanced test set: the mean over groups is the test-set accuracy.
    assert r.mean_over_groups.mean == pytest.approx(r.overall.mean)
    assert r.worst_group.mean <= r.rare.mean + 1e-12
    # Each seed's rare-group test examples, kept for the paired comparison.
    assert r.rare_correct.shape == (config.num_seeds, 40)
    assert r.rare.mean == pytest.approx(r.per_group_mean[mod_config.RARE])
    assert len(r.per_group_mean) == 4
    # The weighted approaches are picked on their weighted validation loss.
    assert all(s.metric == ('error' if r.approach == experiment.unweighted(
        r.approach) else 'loss') and not s.test_examples for s in r.picks)
    assert len(r.picks) == (
        4 if experiment.unweighted(r.approach) == 'one_vs_rest' else 1)
  trials = (workdir / 'trials.jsonl').read_text().splitlines()
  # flat, modular, 4 x ovr, weighted flat, 4 x weighted ovr.
  assert len(trials) == 11 * config.num_seeds
  assert sorted(os.listdir(workdir)) == [
      'config.json', 'populations', 'results.json', 'results.md',
      'results.png', 'tensorboard', 'trials.jsonl']
  assert 'rare-group acc %' in (workdir / 'results.md').read_text()
  assert '| rare train examples | approach |' in run.output
  assert report.verdict(rows) in run.output
  # The headline is the claims' lines of the verdict, from the same Claims:
  # one against each baseline.
  decided = report.claims(rows)
  assert [c.baseline for c in decided] == list(mod_config.BASELINES)
  for c in decided:
    assert c.verdict in stats.VERDICTS and c.tested
    assert list(c.comparisons) == [5]
    assert c.comparisons[5].examples == 40
  assert report.headline(summary) == ' '.join(
      report.claim_said(c) for c in decided)
  assert report.verdict(rows).endswith('- ' + report.claim_said(decided[-1]))
  # The stored rows render the same report the run wrote.
  assert report.render_markdown(summary) == (workdir / 'results.md').read_text()


# ------------------------------------------------- verdicts, on built rows

EXAMPLES = 40   # The rare group's test examples in the built rows.


def _correct(rates):
  """(seeds, EXAMPLES) 0/1: seed s right on the first rates[s] of them."""
  return np.array([np.arange(EXAMPLES) < round(r * EXAMPLES) for r in rates],
                  np.float64)


def _pick(status='done', on_edge=False):
  return runner.Scores(status, 'error', 2, 0, 3e-3 if status == 'done'
                       else None, grid=(1e-3, 3e-3), on_edge=on_edge)


def _row(n, approach, rare, status='done', on_edge=False):
  return report.Row(rare_count=n, approach=approach, model='MLP 64x64',
                    param_count=4_452, picks=(_pick(status, on_edge),),
                    rare_examples=runner.encode_examples(_correct(rare)))


def _headline(rows):
  """The headline from the rows as results.json holds them."""
  summary = runner.to_json({'rows': rows})
  assert report.rows_of(summary) == rows
  return report.headline(summary)


# Rare-group accuracy per seed (multiples of 1/40: exact on 40 examples).
HIGH, LOW, WIDE = (0.9, 0.925, 0.875), (0.2, 0.25, 0.225), (0.1, 0.95, 0.5)
# The differences of their means, by hand.
HIGH_LOW = 0.9 - 0.225
WIDE_LOW = 1.55 / 3 - 0.225


@pytest.mark.parametrize('modular,flat,outcome,difference,seeds', [
    (HIGH, LOW, 'supported', HIGH_LOW, (3, 3)),
    (LOW, HIGH, 'contradicted', -HIGH_LOW, (3, 3)),
    (WIDE, LOW, 'inconclusive', WIDE_LOW, (3, 3)),
    # One seed a side (a smoke run): no interval, inconclusive.
    (HIGH[:1], LOW[:1], 'inconclusive', 0.9 - 0.2, (1, 1))])
def test_modular_vs_flat_reaches_each_outcome(modular, flat, outcome,
                                              difference, seeds):
  m, f = _row(3, 'modular', modular), _row(3, 'flat', flat)
  c = report.modular_beats(m, f)
  assert c.verdict == outcome
  assert c.difference == pytest.approx(difference, abs=1e-12)
  # Paired over the rare group's test examples, not over seeds alone.
  assert (c.seeds, c.examples) == (seeds, EXAMPLES)
  assert c == stats.compare_or_no_interval(
      _correct(modular), _correct(flat), higher_is_better=True)
  assert (c.low < difference < c.high) if seeds[0] > 1 else (
      c.low == -np.inf and c.high == np.inf)
  assert m.rare.per_seed == pytest.approx(modular)
  decided = report.claim([f, m])
  assert decided.comparisons == {3: c} and decided.verdict == outcome
  assert f'modular − flat = {100 * difference:+.1f}' in report.verdict([f, m])


# The rows, the claim's verdict, the rare counts where the modular net is
# ahead / behind, the count the headline shows, and the differences
# (modular − flat) at each count.
CLAIMS = [
    ([_row(3, 'flat', LOW), _row(3, 'modular', HIGH),
      _row(30, 'flat', HIGH), _row(30, 'modular', HIGH)],
     'supported', (3,), (), 3, {3: HIGH_LOW, 30: 0.0}),
    ([_row(3, 'flat', WIDE), _row(3, 'modular', LOW),
      _row(30, 'flat', HIGH), _row(30, 'modular', LOW)],
     'contradicted', (), (30,), 30, {3: -WIDE_LOW, 30: -HIGH_LOW}),
    ([_row(3, 'flat', LOW), _row(3, 'modular', HIGH),
      _row(30, 'flat', HIGH), _row(30, 'modular', LOW)],
     'inconclusive', (3,), (30,), 3, {3: HIGH_LOW, 30: -HIGH_LOW}),
    ([_row(3, 'flat', LOW), _row(3, 'modular', WIDE)],
     'inconclusive', (), (), 3, {3: WIDE_LOW}),
    # Never tested: the modular net diverged.
    ([_row(3, 'flat', LOW), _row(3, 'modular', HIGH, status='diverged'),
      _row(3, 'one_vs_rest', HIGH)],
     'inconclusive', (), (), None, {}),
]


@pytest.mark.parametrize('rows,outcome,ahead,behind,key,differences', CLAIMS)
def test_the_claim_reaches_each_outcome(rows, outcome, ahead, behind, key,
                                        differences):
  decided = report.claim(rows)
  assert decided.verdict == outcome
  assert (decided.ahead, decided.behind, decided.key) == (ahead, behind, key)
  assert decided.tested == bool(differences)
  assert list(decided.comparisons) == list(differences)
  for n, d in differences.items():
    assert decided.comparisons[n].difference == pytest.approx(d, abs=1e-12)
  # The headline (from the rows as results.json holds them) and the
  # verdict's last line are the same Claim's; it carries the key interval.
  headline = _headline(rows)
  assert headline.startswith(report.claim_said(decided))
  assert '- ' + report.claim_said(decided) in report.verdict(rows)
  if key is not None:
    assert decided.comparisons[key].describe(
        'modular', 'flat', scale=100, unit='points') in headline


def test_a_pick_on_the_edge_of_its_grid_is_said_beside_the_verdict():
  rows = [_row(3, 'flat', LOW, on_edge=True), _row(3, 'modular', HIGH)]
  note = runner.edge_note(modular=rows[1].picks[0], flat=rows[0].picks[0])
  assert note and 'flat' in note and 'modular' not in note
  decided = report.claim(rows)
  assert decided.notes == {3: note}
  assert note in report.verdict(rows).splitlines()[0]
  assert note in _headline(rows)
  # Bracketed picks: no note.
  assert report.claim([_row(3, 'flat', LOW), _row(3, 'modular', HIGH)]
                      ).notes == {3: ''}


def test_each_baseline_gets_its_own_claim():
  """Modular ahead of the plain flat net, level with the weighted one:
  supported against one, inconclusive against the other, each said."""
  rows = [_row(3, 'flat', LOW), _row(3, 'modular', HIGH),
          _row(3, 'flat_weighted', HIGH)]
  flat, weighted = report.claims(rows)
  assert (flat.baseline, flat.verdict) == ('flat', 'supported')
  assert (weighted.baseline, weighted.verdict) == ('flat_weighted',
                                                   'inconclusive')
  assert weighted.comparisons[3].difference == 0
  assert weighted.comparisons[3] == report.modular_beats(rows[1], rows[2])
  line = report.verdict(rows).splitlines()[0]
  assert 'modular − flat = ' in line and 'modular − flat_weighted = ' in line
  assert _headline(rows) == ' '.join(map(report.claim_said, (flat, weighted)))


def test_the_anchor_is_the_papers_tables():
  """Every number in the anchor (beside the year and the ℓ2) is a cell of
  reference/sagawa2020_celeba_*.csv."""
  anchor = modularity.STUDY.chapter.anchor
  groups = {r['group']: int(r['train_count'])
            for r in reference.load_csv('sagawa2020_celeba_groups.csv')}
  table = {r['setting']: r for r in reference.load_csv(
      'sagawa2020_celeba_accuracy.csv')}
  row = table['strong_l2']   # ERM and group DRO from the same row.
  numbers = [float(x.replace(',', '')) for x in
             re.findall(r'\d[\d,]*(?:\.\d+)?', anchor)]
  assert numbers == [2020, groups['blond_male'], sum(groups.values()), 2, 1,
                     float(row['erm_average']), float(row['erm_worst_group']),
                     float(row['dro_average']), float(row['dro_worst_group'])]
  assert (groups['blond_male'], sum(groups.values())) == (1_387, 162_770)
