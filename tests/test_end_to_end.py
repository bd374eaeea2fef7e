"""The end-to-end study: its checks, the feature pipeline's standardisation,
and a tiny run of the launcher."""

import json
import os

import numpy as np
import pytest

from conftest import refused, study_run
from deepvsshallow import data, frontend
from deepvsshallow.studies import end_to_end
from experiments.configs import end_to_end as e2e_config



@pytest.mark.parametrize('overrides,message', [
    (dict(classifiers=('linear', 'rnn')), "unknown 'rnn'"),
    (dict(inputs=('spectrogram',)), "unknown 'spectrogram'"),
    (dict(dataset='digits'), 'is not a 1-D signal dataset'),
    (dict(frontend=dict(num_coeffs=9)), 'num_coeffs'),
    (dict(frontend=dict(frame_length=64)), 'frame'),
])
def test_bad_configs_are_refused(tmp_path, overrides, message):
  config = e2e_config.get_config('runlocal')
  if 'dataset' in overrides:
    del config['generator']   # digits is not generated.
  for key, value in overrides.items():
    if isinstance(value, dict):
      config[key].update(value)
    else:
      config[key] = value
  assert message in refused(end_to_end.train_and_evaluate, config,
                            tmp_path / 'never')


def test_features_are_the_front_end_standardised_with_train_statistics():
  rng = np.random.default_rng(0)
  fe = frontend.FrontEnd(frame_length=16, hop=4, num_filters=8, num_coeffs=6)
  train = rng.normal(size=(50, 40, 1, 1)).astype(np.float32)
  test = 3 * rng.normal(size=(20, 40, 1, 1)).astype(np.float32)
  features = end_to_end.Features(fe, 'float', train, chunk=7)
  got_train = features(data.Split(train, np.zeros(50, np.int32))).inputs
  got_test = features(data.Split(test, np.zeros(20, np.int32))).inputs
  assert got_train.shape == (50, 7, 6, 1)
  # Train features: mean 0 and std 1 per (frame, coefficient).
  np.testing.assert_allclose(got_train.mean(0), 0, atol=1e-5)
  np.testing.assert_allclose(got_train.std(0), 1, atol=1e-4)
  # Test features: the same affine map, fitted on train only.
  raw_train = np.asarray(fe(train.reshape(50, 40)), np.float64)
  raw_test = np.asarray(fe(test.reshape(20, 40)), np.float64)
  expected = (raw_test - raw_train.mean(0)) / raw_train.std(0)
  np.testing.assert_allclose(got_test[..., 0], expected, rtol=1e-4, atol=1e-4)


def test_shallow_nets_match_the_deep_net_on_each_input():
  config = e2e_config.get_config('')
  ds = data.in_memory('toy', data.Split(np.zeros((20, 42, 1, 1), np.float32),
                                        np.zeros(20, np.int32)),
                      data.Split(np.zeros((4, 42, 1, 1), np.float32),
                                 np.zeros(4, np.int32)), val_fraction=0.2,
                      split_seed=0, input_convention='float',
                      task='classification', num_classes=10)
  from deepvsshallow import params
  fns = end_to_end.model_fns(config, ds, 'features')
  assert 'cnn' not in fns   # The CNN sees raw signals only.
  deep = params.model_param_count(fns['deep'][0])
  shallow = params.model_param_count(fns['shallow'][0])
  assert abs(shallow - deep) / deep < 0.002


@pytest.mark.slow
def test_launcher_end_to_end(lecture_runlocal):
  workdir, _ = study_run(lecture_runlocal, 'end_to_end')
  summary = json.loads((workdir / 'results.json').read_text())
  assert [(r['classifier'], r['inputs']) for r in summary['rows']] == [
      ('deep', 'raw'), ('deep', 'features')]
  assert summary['feature_shape'] == [7, 6]
  assert sorted(os.listdir(workdir)) == ['config.json', 'populations',
                                         'results.json', 'results.md',
                                         'results.png', 'tensorboard',
                                         'trials.jsonl']


def test_the_verdict_picks_on_validation_not_on_test():
  row = lambda c, i, val, test: {
      'classifier': c, 'inputs': i, 'status': 'done', 'val_error_mean': val,
      'test_error_mean': test, 'test_error_std': 0.01}
  rows = [row('deep', 'raw', 0.30, 0.36), row('cnn', 'raw', 0.10, 0.12),
          row('linear', 'features', 0.20, 0.25),
          row('deep', 'features', 0.25, 0.11)]   # Lucky on test only.
  text = end_to_end.verdict(rows)
  assert 'the best end to end (cnn on raw, 12.0% test error) loses to the ' \
         'best on the hand-crafted features (linear, 25.0%)' not in text
  assert '(cnn on raw, 12.0% test error) beats' in text
  assert '(linear, 25.0%)' in text
  assert end_to_end.headline({'rows': rows[:1]}).startswith('No comparison')
