"""The end-to-end study: its checks, the feature pipeline's standardisation
(against numpy), the verdicts on constructed rows, and its :runlocal run."""

import json
import os

import numpy as np
import pytest

from conftest import refused, unread_fields
from deepvsshallow import data, frontend, params, runner
from deepvsshallow.studies import end_to_end
from deepvsshallow.studies.end_to_end import experiment, report

e2e_config = end_to_end.config


@pytest.mark.parametrize('overrides,field', [
    (dict(classifiers=('linear', 'rnn')), 'classifiers'),
    (dict(inputs=('spectrogram',)), 'inputs'),
    (dict(deep_hidden=(16, 0)), 'deep_hidden'),
    (dict(dataset='digits'), 'dataset'),
    (dict(frontend=dict(num_coeffs=9)), 'frontend'),
    (dict(frontend=dict(frame_length=64)), 'frontend'),   # Longer than L=40.
])
def test_bad_configs_are_refused(tmp_path, overrides, field):
  config = e2e_config.get_config('runlocal')
  if 'dataset' in overrides:
    del config['generator']   # digits is not generated.
  for key, value in overrides.items():
    if isinstance(value, dict):
      config[key].update(value)
    else:
      config[key] = value
  message = refused(end_to_end.train_and_evaluate, config, tmp_path / 'never')
  assert message.startswith(f'config.{field}'), message


def test_features_are_the_front_end_standardised_with_train_statistics():
  rng = np.random.default_rng(0)
  fe = frontend.FrontEnd(frame_length=16, hop=4, num_filters=8, num_coeffs=6)
  train = rng.normal(size=(50, 40, 1, 1)).astype(np.float32)
  test = 3 * rng.normal(size=(20, 40, 1, 1)).astype(np.float32)
  features = experiment.Features(fe, 'float', train, chunk=7)
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
  fns = experiment.model_fns(config, ds, 'features')
  assert 'cnn' not in fns   # The CNN sees raw signals only.
  deep = params.model_param_count(fns['deep'][0])
  shallow = params.model_param_count(fns['shallow'][0])
  assert abs(shallow - deep) / deep < 0.002


@pytest.mark.slow
def test_runlocal_end_to_end(runlocal):
  run = runlocal('end_to_end')
  assert sorted(os.listdir(run.workdir)) == ['config.json', 'populations',
                                             'results.json', 'results.md',
                                             'results.png', 'tensorboard',
                                             'trials.jsonl']
  assert not unread_fields(run, 'end_to_end')
  summary = json.loads((run.workdir / 'results.json').read_text())
  config = e2e_config.get_config('runlocal')
  rows = report.rows_of(summary)
  assert [(r.classifier, r.inputs) for r in rows] == [
      ('deep', 'raw'), ('deep', 'features')]
  assert summary['feature_shape'] == [7, 6]
  for r in rows:
    assert r.scores.done and r.scores.metric == 'error'
    assert len(r.scores.test_per_seed) == config.num_seeds
    np.testing.assert_allclose(np.mean(r.scores.test_per_seed),
                               r.scores.test_mean)
  # The stored rows render the same report the run wrote.
  assert report.render_markdown(summary) == (
      run.workdir / 'results.md').read_text()
  # One line per classifier on both inputs, and the best-against-best one,
  # which is the headline: the claim judged on the two rows.
  claim = report.claim(rows)
  assert (claim.learned, claim.crafted) == tuple(rows)
  assert claim.comparison.difference == pytest.approx(
      np.mean(rows[0].scores.test_per_seed)
      - np.mean(rows[1].scores.test_per_seed))
  assert report.verdict(rows).count('\n- ') + 1 == 2
  assert report.verdict(rows).endswith('\n- ' + report.headline(summary))
  with open(run.workdir / 'trials.jsonl') as f:
    assert len(f.readlines()) == 2 * config.num_seeds


def _row(classifier, inputs, val, errors):
  """A finished row: validation error `val` on every seed, test `errors`."""
  return report.Row(classifier=classifier, inputs=inputs, model='MLP 16x16',
                    input_dim=40, param_count=1_098,
                    scores=runner.Scores(status='done', metric='error',
                                         num_candidates=1, learning_rate=1e-3,
                                         val_per_seed=(val,) * len(errors),
                                         test_per_seed=tuple(errors)))


def _summary(rows):
  """The summary's rows as results.json holds them."""
  return runner.to_json({'rows': rows})


def test_the_verdict_picks_on_validation_not_on_test():
  rows = [_row('deep', 'raw', 0.30, (0.35, 0.36, 0.37)),
          _row('cnn', 'raw', 0.10, (0.11, 0.12, 0.13)),
          _row('linear', 'features', 0.20, (0.24, 0.25, 0.26)),
          # Lucky on test only: not the pick.
          _row('deep', 'features', 0.25, (0.10, 0.11, 0.12))]
  claim = report.claim(rows)
  assert (claim.learned, claim.crafted) == (rows[1], rows[2])
  assert claim.verdict == 'supported'
  assert claim.comparison.difference == pytest.approx(0.12 - 0.25)
  assert 'end to end − features = -13.0 [' in report.headline(
      _summary(rows))
  assert report.claim(rows[:1]) is None
  assert report.headline(_summary(rows[:1])) == report.NO_CLAIM


@pytest.mark.parametrize('raw,features,outcome,difference', [
    ((0.10, 0.11, 0.12), (0.30, 0.31, 0.32), 'supported', -0.20),
    ((0.30, 0.31, 0.32), (0.10, 0.11, 0.12), 'contradicted', 0.20),
    # Within the seeds' spread: not a tie, and not support for the claim.
    ((0.10, 0.30, 0.20), (0.25, 0.15, 0.35), 'inconclusive', -0.05),
    # One seed a side: no interval, whatever the difference.
    ((0.10,), (0.30,), 'inconclusive', -0.20),
])
def test_raw_against_features_reaches_each_outcome(raw, features, outcome,
                                                   difference):
  rows = [_row('deep', 'raw', 0.2, raw), _row('deep', 'features', 0.2,
                                               features)]
  c = report.raw_beats_features(*rows)
  assert c.verdict == outcome
  assert c.difference == pytest.approx(difference)
  # The lecture's claim takes the comparison's verdict.
  claim = report.claim(rows)
  assert claim.verdict == outcome and claim.comparison == c
  assert claim.has_interval == (len(raw) > 1)
  lines = report.verdict(rows).splitlines()
  assert len(lines) == 2
  assert lines[0].startswith('- deep: ') and lines[0].endswith(
      f': {outcome}.')
  assert f'end to end − features = {100 * difference:+.1f}' in lines[1]
  headline = report.headline(_summary(rows))
  assert headline == lines[1][2:]
  assert headline.split("hand-crafted one): ")[1].startswith(outcome)


def test_a_diverged_side_leaves_no_comparison():
  rows = [_row('deep', 'raw', 0.2, (0.1, 0.2)),
          report.Row(classifier='deep', inputs='features', model='MLP 16x16',
                     input_dim=42, param_count=1_130,
                     scores=runner.Scores(status='diverged', metric='error',
                                          num_candidates=1, num_diverged=2))]
  assert report.verdict(rows) == ''
  assert report.headline(_summary(rows)).startswith('No comparison')
  # The table says so, and the summary reads back to the same rows.
  assert report.results_table(rows).splitlines()[-1].endswith(
      '| - | n/a | diverged |')
  assert report.rows_of(_summary(rows)) == rows


def test_the_anchor_is_the_lectures_pipeline():
  assert 'Davis & Mermelstein 1980' in end_to_end.STUDY.chapter.anchor
