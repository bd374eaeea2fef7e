"""Distorted digits, the SpatialTransformer module, and the STN study: its
budgets, checks, verdicts on constructed rows, anchor and :runlocal run."""

import functools
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from conftest import refused, tensorboard_logdir, unread_fields
from deepvsshallow import (data, distortions, models, ops, params,
                           reference, runner, stats)
from deepvsshallow.errors import UsageError
from deepvsshallow.studies import stn
from deepvsshallow.studies.stn import experiment as stn_experiment
from deepvsshallow.studies.stn import report

stn_config = stn.config


def _sample(images, theta, canvas):
  n, _, _, c = images.shape
  return np.asarray(ops.bilinear_sample(
      jnp.asarray(images), ops.affine_grid(theta, (n, canvas, canvas, c))))


def test_quarter_turn_is_rot90_and_shift_moves_the_digit():
  rng = np.random.default_rng(0)
  img = rng.uniform(size=(1, 6, 6, 1)).astype(np.float32)
  quarter = distortions.compose_theta(jnp.array([np.pi / 2]), jnp.ones(1),
                                      jnp.zeros((1, 2)), 6, 6)
  np.testing.assert_allclose(_sample(img, quarter, 6)[0, ..., 0],
                             np.rot90(img[0, ..., 0]), atol=1e-6)
  # No rotation, scale 1, centred 3 pixels right and 3 down on a 12 canvas.
  moved = distortions.compose_theta(jnp.zeros(1), jnp.ones(1),
                                    jnp.array([[3.0, 3.0]]), 12, 6)
  expected = np.zeros((12, 12), np.float32)
  expected[6:, 6:] = img[0, ..., 0]
  np.testing.assert_allclose(_sample(img, moved, 12)[0, ..., 0], expected,
                             atol=1e-6)


def test_half_scale_halves_the_digit():
  img = np.zeros((1, 8, 8, 1), np.float32)
  img[0, 2:6, 2:6] = 1.0  # A 4x4 square in the middle.
  half = distortions.compose_theta(jnp.zeros(1), jnp.array([0.5]),
                                   jnp.zeros((1, 2)), 8, 8)
  out = _sample(img, half, 8)[0, ..., 0]
  assert out.sum() == pytest.approx(img.sum() / 4, rel=1e-5)  # Area / 4.
  assert out[3:5, 3:5].min() == pytest.approx(1.0)


def test_distorted_dataset_is_deterministic_and_sized(digits, tmp_path):
  r = distortions.distorted_dataset(digits, 'R', seed=0, margin=2)
  rts = distortions.distorted_dataset(digits, 'RTS', seed=0, margin=2,
                                      cache_dir=str(tmp_path))
  assert r.input_shape == (12, 12, 1) and rts.input_shape == (18, 18, 1)
  assert rts.train.inputs.dtype == np.uint8
  again = distortions.distorted_dataset(digits, 'RTS', seed=0, margin=2,
                                        cache_dir=str(tmp_path))  # Cached.
  assert np.array_equal(again.train.inputs, rts.train.inputs)
  other = distortions.distorted_dataset(digits, 'RTS', seed=1, margin=2)
  assert not np.array_equal(other.train.inputs, rts.train.inputs)
  assert np.array_equal(rts.train.targets, digits.train.targets)
  # Ink is conserved up to clipping at the canvas edge and the 0.7-1.2 scale.
  ink = rts.train.inputs.sum((1, 2, 3)) / digits.train.inputs.sum((1, 2, 3))
  assert 0.35 < np.median(ink) < 1.5
  assert len(os.listdir(tmp_path)) == 2  # train + validation; test is lazy.


def _blob_pattern(side=28):
  """Three Gaussian blobs of different mass, within 10 pixels of the
  centre (so a turn by up to 90 degrees keeps them on the canvas)."""
  centres = np.array([[-7.0, -5.0], [8.0, -3.0], [-2.0, 8.0]])  # (x, y)
  peaks = (250.0, 170.0, 100.0)
  yy, xx = np.mgrid[:side, :side] - (side - 1) / 2
  image = sum(p * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 1.3 ** 2))
              for p, (cx, cy) in zip(peaks, centres))
  return np.round(image).astype(np.uint8), centres


def _recovered_transforms(outputs, centres):
  """(angle in degrees, scale, shift (x, y) of the image centre from the
  canvas centre, shear residue) of each output, from its blobs' centroids
  alone: the exact affine map of the three centres, read as a similarity."""
  from scipy import ndimage
  found = []
  for out in outputs[..., 0].astype(np.float64):
    labels, count = ndimage.label(out > 20)
    assert count == 3
    index = range(1, 4)
    masses = ndimage.sum(out, labels, index)
    cents = np.array(ndimage.center_of_mass(out, labels, index))[:, ::-1]
    cents = cents[np.argsort(masses)[::-1]] - (out.shape[0] - 1) / 2
    # p = A q + t through the three (centre, centroid) pairs.
    q = np.hstack([centres, np.ones((3, 1))])
    solution = np.linalg.solve(q, cents)          # (3, 2): [A^T; t].
    a, t = solution[:2].T, solution[2]
    scale = np.sqrt(np.linalg.det(a))
    # y points down: content turned counter-clockwise by phi has
    # A = s [[cos, sin], [-sin, cos]].
    angle = np.degrees(np.arctan2(-a[1, 0], a[0, 0]))
    shear = abs(a[0, 1] + a[1, 0]) + abs(a[0, 0] - a[1, 1])
    found.append((angle, scale, t, shear / scale))
  return found


@pytest.mark.parametrize('kind', ['R', 'RTS'])
def test_the_applied_transform_lies_in_the_papers_ranges(kind):
  """Jaderberg et al. 2015, 4.1: R turns by up to +-90 degrees; RTS turns
  by up to +-45, scales by 0.7-1.2 and places the digit at random in a
  42x42 canvas (for 28x28 MNIST). Each transform is recovered from a
  rendered three-blob pattern, and the draws fill the ranges."""
  image, centres = _blob_pattern()
  n = 300
  split = data.Split(
      np.repeat(image[None, :, :, None], n, 0), np.zeros(n, np.int64))
  spec = distortions.spec_for(kind, (28, 28))
  out = distortions.distort_split(split, spec, jax.random.key(7))
  assert out.inputs.shape == (n, *((28, 28) if kind == 'R' else (42, 42)), 1)
  found = _recovered_transforms(out.inputs, centres)
  angles = np.array([f[0] for f in found])
  scales = np.array([f[1] for f in found])
  shifts = np.array([f[2] for f in found])
  assert max(f[3] for f in found) < 0.03       # A similarity: no shear.
  if kind == 'R':
    assert np.all(np.abs(angles) <= 90.5) and np.abs(angles).max() > 85
    np.testing.assert_allclose(scales, 1.0, atol=0.02)
    assert np.abs(shifts).max() < 0.2           # Turned about the centre.
  else:
    assert np.all(np.abs(angles) <= 45.5) and np.abs(angles).max() > 42
    assert scales.min() >= 0.68 and scales.max() <= 1.22
    assert scales.min() < 0.73 and scales.max() > 1.17
    # The scaled 28x28 box stays on the 42x42 canvas, and moves about in it.
    room = (42 - scales * 28) / 2
    assert np.all(np.abs(shifts) <= room[:, None] + 0.3)
    assert np.abs(shifts).max() > 5


def test_mnist_sized_rts_canvas_is_42():
  assert distortions.spec_for('RTS', (28, 28)).canvas == 42
  assert distortions.spec_for('R', (28, 28)).canvas == 28
  with pytest.raises(UsageError, match='unknown distortion'):
    distortions.spec_for('P', (28, 28))


def test_spatial_transformer_starts_at_identity():
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.uniform(size=(3, 12, 12, 1)), jnp.float32)
  st = models.SpatialTransformer((12, 12, 1), rngs=nnx.Rngs(0))
  np.testing.assert_array_equal(
      st.affine(x), jnp.broadcast_to(jnp.eye(2, 3), (3, 2, 3)))
  np.testing.assert_array_equal(st(x), x)
  cnn_loc = models.SpatialTransformer((12, 12, 1), localisation='cnn',
                                      rngs=nnx.Rngs(0))
  np.testing.assert_array_equal(cnn_loc(x), x)


def test_nearest_sampling_starves_the_localisation_net(digits):
  rts = distortions.distorted_dataset(digits, 'RTS', seed=0, margin=2)
  norms = {}
  for sampler in ('bilinear', 'nearest'):
    fn = functools.partial(models.st_fcn, (18, 18, 1), 10, width=32,
                           output_hw=(12, 12), sampler=sampler)
    norms[sampler] = stn_experiment._transformer_grad_norm(fn, rts, seed=0)
  assert norms['nearest'] == 0.0
  assert norms['bilinear'] > 1e-3


@pytest.mark.parametrize('canvas', [12, 18])
def test_models_are_matched_to_the_cnn_budget(canvas):
  config = stn_config.get_config('')
  built = stn_experiment.build_models(config, (canvas, canvas, 1), 10, 12)
  budget = built['CNN'][1]
  for name in ('FCN', 'ST-FCN', 'ST-CNN'):
    assert budget * 0.95 <= built[name][1] <= budget * 1.05, name
  for name, (fn, count) in built.items():  # Counts come from the models.
    model = nnx.eval_shape(lambda: fn(rngs=nnx.Rngs(0)))
    assert params.count_params(nnx.state(model, nnx.Param)) == count
  # The ST-CNN's classifier plus its localisation net, by closed form.
  st_cnn = built['ST-CNN'][0].keywords
  pooled = (-(-canvas // 2)) ** 2  # The localisation MLP sees a 2x2 pool.
  loc = (pooled + 1) * config.loc_hidden + (config.loc_hidden + 1) * 6
  assert built['ST-CNN'][1] == loc + params.cnn_param_count(
      (12, 12, 1), st_cnn['channels'], 10)


@pytest.mark.slow
def test_stn_end_to_end(runlocal):
  """The study at :runlocal (shared with the lecture's tests)."""
  run = runlocal('stn')
  config = stn_config.get_config('runlocal')
  # (grid_extensions is read through config.get, which ReadTracker misses.)
  assert not unread_fields(run, 'stn') - {'grid_extensions'}
  assert sorted(os.listdir(run.workdir)) == [
      'config.json', 'populations', 'rectification.png', 'results.json',
      'results.md', 'tensorboard', 'trials.jsonl']
  summary = json.loads((run.workdir / 'results.json').read_text())
  rows = report.rows_of(summary)
  names = {(r.distortion, r.model) for r in rows}
  assert names == {('RTS', m) for m in stn_config.MODEL_NAMES} | {
      ('RTS', stn_config.NEAREST)}
  for r in rows:
    assert r.scores.done and 0 <= r.scores.test_mean <= 1
    assert len(r.scores.test_per_seed) == config.num_seeds
    # theta is measured on every ST model, the gradient on the ST-FCNs.
    assert (r.theta_shift_from_identity is not None) == (
        r.model.startswith('ST-'))
    assert (r.loc_grad_norm_at_init is not None) == (
        r.model in ('ST-FCN', stn_config.NEAREST))
  nearest = [r for r in rows if r.model == stn_config.NEAREST]
  assert nearest[0].loc_grad_norm_at_init == 0.0
  assert nearest[0].theta_shift_from_identity == 0.0
  md = (run.workdir / 'results.md').read_text()
  assert 'Jaderberg et al. 2015' in md and '| ST-CNN |' in md
  # The stored rows render the same report the run wrote.
  assert report.render_markdown(summary) == md
  # One verdict per transformer, in the report and the headline.
  assert report.transformer_verdict(rows, ['RTS']).count(
      '\n- ') == 1
  assert report.headline(summary).count(' points: ') == 2
  n = rows[0].scores.test_per_example.shape[1]   # Paired over test examples.
  st, plain = (next(r for r in rows if r.model == m) for m in report.PAIRS[0])
  assert report.lower_error(st, plain).examples == n
  with open(run.workdir / 'trials.jsonl') as f:
    records = [json.loads(l) for l in f]
  assert len(records) == 5 * config.num_seeds * len(config.learning_rates)
  for key in ('val_fraction', 'split_seed', 'weight_decay', 'patience'):
    assert records[0]['config'][key] == config[key]


@pytest.mark.slow
def test_tensorboards_hparams_hold_each_members_settings_and_scores(
    runlocal):
  """Every member of every population is one HParams session, read back by
  TensorBoard itself: its population, learning rate, seed and parameter
  count as trials.jsonl records them, its best validation error as recorded
  there, and exactly the picked members (the picked learning rate, seed k)
  hold results.json's test error of seed k."""
  run = runlocal('stn')
  with open(run.workdir / 'trials.jsonl') as f:
    records = [json.loads(l) for l in f]
  summary = json.loads((run.workdir / 'results.json').read_text())
  tests = {}
  for r in report.rows_of(summary):
    for k, error in enumerate(r.scores.test_per_seed):
      tests[(f'{r.distortion}/{r.model}', r.scores.learning_rate, k)] = error
  (hparams, metrics), runs = tensorboard_logdir(run.workdir / 'tensorboard')
  assert hparams == {'population', 'learning_rate', 'seed', 'param_count',
                     'members', 'distortion', 'model'}
  assert {'hparams/best_validation_error', 'hparams/test_error'} <= metrics
  sessions = {(hp['population'], hp['learning_rate'], hp['seed']): (hp, m)
              for hp, m in runs.values()}
  assert len(sessions) == len(runs) == len(records)
  tested = {}
  for r in records:
    hp, scalars = sessions[(r['name'], r['learning_rate'], r['seed'])]
    assert hp['param_count'] == r['param_count']
    # The STN's nets are convolutional or small: only the CNNs take turns.
    assert hp['members'] == r['members'] == (
        'map' if 'CNN' in r['model'] and jax.default_backend() == 'cpu'
        else 'vmap')
    assert hp['model'] == r['model'] and hp['distortion'] == r['distortion']
    [(_, best)] = scalars['hparams/best_validation_error']
    assert best == pytest.approx(r['metrics']['best_val_error'], abs=1e-6)
    if 'hparams/test_error' in scalars:
      [(_, value)] = scalars['hparams/test_error']
      tested[(r['name'], r['learning_rate'], r['seed'])] = value
  assert len(tested) == len(tests)
  for key, value in tests.items():
    assert tested[key] == pytest.approx(value, abs=1e-6), key


@pytest.mark.parametrize('overrides,field', [
    (dict(models=('FCN', 'MLP-9000')), 'models'),
    (dict(distortions=('P',)), 'distortions'),
    (dict(cnn_channels=(16, 0)), 'cnn_channels'),
    (dict(cnn_channels=(1, 1)), 'cnn_channels'),   # Too small a budget.
    (dict(loc_channels=(8,)), 'loc_channels'),
    (dict(localisation='resnet'), 'localisation'),
    (dict(loc_hidden=100000), 'loc_hidden'),   # Leaves no room (R and RTS).
    (dict(distortion_seed=-3), 'distortion_seed'),
])
def test_stn_bad_config_is_one_usage_line(overrides, field, tmp_path):
  config = stn_config.get_config('')
  config.update(overrides)
  message = refused(stn.train_and_evaluate, config, tmp_path / 'never')
  assert message.startswith(f'config.{field}'), message


def _errors(rate, seed, seeds=3, n=400):
  """(seeds, test examples) of 0/1 errors, each wrong with chance `rate`."""
  return (np.random.default_rng(seed).random((seeds, n)) < rate).astype(float)


def _row(model, errors_SN, kind='RTS', on_edge=False):
  per_seed = tuple(errors_SN.mean(1))
  return report.Row(distortion=kind, model=model, param_count=12_000,
                    scores=runner.Scores(
                        'done', 'error', 2, 0, 3e-3, per_seed, per_seed,
                        runner.encode_examples(errors_SN), (1e-3, 3e-3),
                        on_edge),
                    theta_shift_from_identity=0.02,
                    loc_grad_norm_at_init=0.1)


def _summary(rows, kinds=('RTS',)):
  """The rows as results.json holds them, with the config's distortions."""
  return runner.to_json({'rows': rows, 'config': {'distortions': kinds}})


@pytest.mark.parametrize('st_rate,plain_rate,outcome', [
    (0.10, 0.40, 'supported'),
    (0.40, 0.10, 'contradicted'),
    (0.20, 0.20, 'inconclusive'),
])
def test_the_transformer_verdict_reaches_each_outcome(st_rate, plain_rate,
                                                      outcome):
  st, plain = _errors(st_rate, 1), _errors(plain_rate, 2)
  rows = [_row('FCN', plain), _row('ST-FCN', st)]
  c = report.lower_error(rows[1], rows[0])
  assert c == stats.compare(st, plain, higher_is_better=False)
  assert c.verdict == outcome and c.examples == 400   # Paired.
  assert c.difference == pytest.approx(st.mean() - plain.mean())
  numbers = f'{100 * c.difference:+.1f} [{100 * c.low:+.1f}, {100 * c.high:+.1f}]'
  text = report.transformer_verdict(rows, ['RTS'])
  assert text.startswith('- RTS: ST-FCN ') and text.endswith(f': {outcome}.')
  assert f'ST-FCN − FCN = {numbers}' in text
  assert report.headline(_summary(rows)).endswith(f'points: {outcome}).')
  # Bilinear against nearest sampling: the same yardstick.
  rows.append(_row(stn_config.NEAREST, plain))
  note = report.nearest_note(rows)
  assert note.endswith(f'points: {outcome}).')
  assert f'ST-FCN − {stn_config.NEAREST} = {numbers}' in note


def test_each_pair_keeps_its_own_verdict_in_the_headline():
  """No pooled verdict: R inconclusive and RTS supported are both said."""
  rows = [_row('CNN', _errors(0.11, 1), 'R'),
          _row('ST-CNN', _errors(0.11, 2), 'R'),
          _row('CNN', _errors(0.40, 3)), _row('ST-CNN', _errors(0.18, 4))]
  headline = report.headline(_summary(rows, ('R', 'RTS')))
  r, rts = headline.split('; ')
  assert r.startswith('Test error R: ') and r.endswith('inconclusive)')
  assert rts.startswith('RTS: ') and rts.endswith('supported).')


def test_a_pick_on_its_grids_end_is_noted_beside_the_verdict():
  rows = [_row('FCN', _errors(0.4, 1), on_edge=True),
          _row('ST-FCN', _errors(0.1, 2))]
  note = runner.edge_note(FCN=rows[0].scores)
  assert note and report.transformer_verdict(rows, ['RTS']).endswith(
      note + '.')
  assert report.headline(_summary(rows)).endswith(note + ').')


def test_missing_or_diverged_models_leave_no_verdict():
  rows = [_row('FCN', _errors(0.4, 1, 2)), _row('ST-CNN', _errors(0.1, 2, 2)),
          report.Row(distortion='RTS', model='ST-FCN', param_count=12_000,
                     scores=runner.Scores(status='diverged', metric='error',
                                          num_candidates=1, num_diverged=2))]
  assert report.transformer_verdict(rows, ['RTS']) == ''
  assert report.nearest_note(rows) == ''
  summary = _summary(rows)
  assert report.rows_of(summary) == rows
  assert report.headline(summary).startswith('No comparison')
  assert '| ST-FCN | 12,000 | diverged |' in report.results_table(rows,
                                                                   ['RTS'])
  # A pair on another distortion than the ones asked for is not compared.
  rows = [_row('FCN', _errors(0.4, 1, 2), 'R'),
          _row('ST-FCN', _errors(0.1, 2, 2), 'R')]
  assert report.transformer_verdict(rows, ['RTS']) == ''
  assert report.transformer_verdict(rows, ['R', 'RTS']).startswith('- R: ')


def test_the_anchor_is_table_1():
  table = {r['model']: r for r in reference.load_csv(
      'stn2015_distorted_mnist.csv') if r['transform'] in ('none', 'affine')}
  anchor = stn.STUDY.chapter.anchor
  for model in ('FCN', 'CNN', 'ST-FCN', 'ST-CNN'):
    assert f'{model} {table[model]["R"]} / {table[model]["RTS"]}%' in anchor
  assert 'FCN 2.1 / 5.2%' in anchor   # Not 2.6%, as the lecture once said.
