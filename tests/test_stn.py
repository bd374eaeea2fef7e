"""Distorted digits, the SpatialTransformer module, and the STN experiment."""

import functools
import json
import os

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from conftest import config_reads, study_run
from deepvsshallow import distortions, models, ops, params
from deepvsshallow.studies import stn as stn_experiment
from deepvsshallow.errors import UsageError
from experiments.configs import stn as stn_config



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
def test_stn_end_to_end(lecture_runlocal):
  """The launcher at :runlocal (the session's lecture run)."""
  tmp_path, _ = study_run(lecture_runlocal, 'stn')
  config = stn_config.get_config('runlocal')
  assert set(config.keys()) - config_reads(lecture_runlocal, 'stn') == set()
  assert sorted(os.listdir(tmp_path)) == [
      'config.json', 'populations', 'rectification.png', 'results.json',
      'results.md', 'tensorboard', 'trials.jsonl']
  summary = json.loads((tmp_path / 'results.json').read_text())
  names = {(r['distortion'], r['model']) for r in summary['rows']}
  assert names == {('RTS', m) for m in stn_experiment.MODEL_NAMES} | {
      ('RTS', stn_experiment.NEAREST)}
  for r in summary['rows']:
    assert r['status'] == 'done' and 0 <= r['test_error_mean'] <= 1
  nearest = [r for r in summary['rows'] if r['model'] == stn_experiment.NEAREST]
  assert nearest[0]['loc_grad_norm_at_init'] == 0.0
  assert nearest[0]['theta_shift_from_identity'] == 0.0
  md = (tmp_path / 'results.md').read_text()
  assert 'Jaderberg et al. 2015' in md and '| ST-CNN |' in md
  with open(tmp_path / 'trials.jsonl') as f:
    records = [json.loads(l) for l in f]
  assert len(records) == 5 * config.num_seeds * len(config.learning_rates)
  for key in ('val_fraction', 'split_seed', 'weight_decay', 'patience'):
    assert records[0]['config'][key] == config[key]


@pytest.mark.parametrize('overrides,message', [
    (dict(models=('FCN', 'MLP-9000')), 'config.models must be'),
    (dict(distortions=('P',)), 'unknown distortion'),
    (dict(cnn_channels=(16, 0)), 'cnn_channels'),
    (dict(loc_channels=(8,)), 'two channel counts'),
    (dict(localisation='resnet'), 'localisation'),
    (dict(loc_hidden=100000), 'leaves no room'),
    (dict(distortion_seed=-3), 'distortion_seed'),
])
def test_stn_bad_config_is_one_usage_line(overrides, message, tmp_path):
  config = stn_config.get_config('')
  config.update(overrides)
  with pytest.raises(UsageError) as e:
    stn_experiment.train_and_evaluate(config, str(tmp_path / 'never'))
  # One line per problem: a budget that fails fails once per distortion.
  lines = str(e.value).splitlines()
  assert all(message in l for l in lines)
  assert len(lines) == (2 if message == 'leaves no room' else 1)
  assert not (tmp_path / 'never').exists()
