"""The end-to-end study: its checks, the feature pipeline's standardisation
(against numpy), the verdicts on constructed rows, and its :runlocal run."""

import json
import os

import numpy as np
import pytest

from conftest import refused, unread_fields
from deepvsshallow import data, frontend, params, runner, stats
from deepvsshallow.studies import end_to_end
from deepvsshallow.studies.end_to_end import experiment, report

e2e_config = end_to_end.config


@pytest.mark.parametrize('overrides,field', [
    (dict(classifiers=('linear', 'rnn')), 'classifiers'),
    (dict(inputs=('spectrogram',)), 'inputs'),
    (dict(deep_hidden=(16, 0)), 'deep_hidden'),
    (dict(dataset='digits'), 'dataset'),
    (dict(frontend=dict(num_coeffs=27)), 'frontend'),    # 26 filters.
    (dict(frontend=dict(frame_length=2048)), 'frontend'),  # L is 1,600.
    (dict(cnn_kernels=(64, 3)), 'cnn_kernels'),
    (dict(feature_cnn_kernels=(3, 0)), 'feature_cnn_kernels'),
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


def _signals(length, width=1):
  """A toy 10-class dataset of (length, width, 1) inputs."""
  split = lambda n: data.Split(np.zeros((n, length, width, 1), np.float32),
                               np.zeros(n, np.int32))
  return data.in_memory('toy', split(20), split(4), val_fraction=0.2,
                        split_seed=0, input_convention='float',
                        task='classification', num_classes=10)


@pytest.mark.parametrize('arg', ['', 'mnist1d'])
def test_both_inputs_get_nets_of_matched_parameter_counts(arg):
  config = e2e_config.get_config(arg)
  length = data.DATASETS[config.dataset].input_shape[0]
  frames, coeffs = e2e_config.front_end(config.frontend).output_shape(length)
  raw = experiment.model_fns(config, _signals(length), 'raw', length)
  features = experiment.model_fns(config, _signals(frames, coeffs),
                                  'features', length)
  count = lambda fns, c: params.model_param_count(fns[c][0])
  # The raw deep MLP and CNN are the config's, counted by hand.
  assert count(raw, 'deep') == params.mlp_param_count(
      length, config.deep_hidden, 10)
  assert count(raw, 'cnn') == params.cnn1d_param_count(
      length, config.cnn_channels, config.cnn_kernels, config.cnn_strides, 10)
  # The MLPs on the features within 1% of their raw counterparts' counts;
  # the deep one never over it (its width rounds down).
  for c in ('shallow', 'deep'):
    assert abs(count(features, c) / count(raw, c) - 1) < 0.01, c
  assert count(features, 'deep') <= count(raw, 'deep')
  # The CNN on the features runs over frames with the coefficients as
  # channels, one width for all layers: the width nearest the raw CNN's
  # count (one channel either way is no nearer).
  model = features['cnn'][0](rngs=__import__('flax').nnx.Rngs(0))
  width = model.convs[0].kernel.shape[-1]
  assert model.convs[0].kernel.shape[-2] == coeffs
  kernels = config.feature_cnn_kernels
  gap = lambda w: abs(params.cnn1d_param_count(
      frames, (w,) * len(kernels), kernels, (1,) * len(kernels), 10,
      input_channels=coeffs) - count(raw, 'cnn'))
  assert gap(width) == abs(count(features, 'cnn') - count(raw, 'cnn'))
  assert gap(width) <= min(gap(width - 1), gap(width + 1))
  assert gap(width) / count(raw, 'cnn') < 0.05


@pytest.mark.slow
def test_runlocal_end_to_end(runlocal):
  run = runlocal('end_to_end')
  assert sorted(os.listdir(run.workdir)) == ['config.json', 'populations',
                                             'results.json', 'results.md',
                                             'results.png', 'tensorboard',
                                             'trials.jsonl']
  # (grid_extensions is read through config.get, which ReadTracker misses.)
  assert not unread_fields(run, 'end_to_end') - {'grid_extensions'}
  summary = json.loads((run.workdir / 'results.json').read_text())
  config = e2e_config.get_config('runlocal')
  rows = report.rows_of(summary)
  assert [(r.classifier, r.inputs) for r in rows] == [
      ('deep', 'raw'), ('deep', 'features')]
  assert summary['feature_shape'] == [11, 13]   # 1,600 samples at 8 kHz.
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
  raw, features = (r.scores.test_per_example for r in rows)
  assert claim.comparison == stats.compare(raw, features,
                                           higher_is_better=False)
  assert claim.comparison.examples == raw.shape[1]   # Paired.
  assert report.verdict(rows).count('\n- ') + 1 == 2
  assert report.verdict(rows).endswith('\n- ' + report.headline(summary))
  with open(run.workdir / 'trials.jsonl') as f:
    assert len(f.readlines()) == 2 * config.num_seeds


def _errors(rate, seed, seeds=3, n=400):
  """(seeds, test examples) of 0/1 errors, each wrong with chance `rate`."""
  return (np.random.default_rng(seed).random((seeds, n)) < rate).astype(float)


def _row(classifier, inputs, val, errors_SN, on_edge=False):
  """A finished row: validation error `val` on every seed, test errors
  (seeds, examples)."""
  per_seed = tuple(errors_SN.mean(1))
  return report.Row(classifier=classifier, inputs=inputs, model='MLP 16x16',
                    input_dim=40, param_count=1_098,
                    scores=runner.Scores(
                        'done', 'error', 3, 0, 1e-3, (val,) * len(per_seed),
                        per_seed, runner.encode_examples(errors_SN),
                        (1e-3, 3e-3, 1e-2), on_edge))


def _summary(rows):
  """The summary's rows as results.json holds them."""
  return runner.to_json({'rows': rows})


def test_the_verdict_picks_on_validation_not_on_test():
  cnn, linear = _errors(0.12, 2), _errors(0.25, 3)
  rows = [_row('deep', 'raw', 0.30, _errors(0.36, 1)),
          _row('cnn', 'raw', 0.10, cnn),
          _row('linear', 'features', 0.20, linear),
          # Lucky on test only: not the pick.
          _row('deep', 'features', 0.25, _errors(0.05, 4))]
  claim = report.claim(rows)
  assert (claim.learned, claim.crafted) == (rows[1], rows[2])
  assert claim.comparison == stats.compare(cnn, linear,
                                           higher_is_better=False)
  assert claim.verdict == 'supported'
  d = 100 * (cnn.mean() - linear.mean())
  assert f'end to end − features = {d:+.1f} [' in report.headline(
      _summary(rows))
  assert report.claim(rows[:1]) is None
  assert report.headline(_summary(rows[:1])) == report.NO_CLAIM


@pytest.mark.parametrize('raw_rate,features_rate,seeds,outcome', [
    (0.10, 0.30, 3, 'supported'),
    (0.30, 0.10, 3, 'contradicted'),
    # Within the interval: not a tie, and not support for the claim.
    (0.30, 0.30, 3, 'inconclusive'),
    # One seed a side: no interval, whatever the difference.
    (0.10, 0.30, 1, 'inconclusive'),
])
def test_raw_against_features_reaches_each_outcome(raw_rate, features_rate,
                                                   seeds, outcome):
  raw, features = _errors(raw_rate, 1, seeds), _errors(features_rate, 2, seeds)
  rows = [_row('deep', 'raw', 0.2, raw), _row('deep', 'features', 0.2,
                                               features)]
  c = report.raw_beats_features(*rows)
  assert c.verdict == outcome and c.examples == 400   # Paired.
  assert c.difference == pytest.approx(raw.mean() - features.mean())
  if seeds > 1:
    assert c == stats.compare(raw, features, higher_is_better=False)
  else:
    assert not np.isfinite(c.low)
  # The lecture's claim takes the comparison's verdict.
  claim = report.claim(rows)
  assert claim.verdict == outcome and claim.comparison == c
  lines = report.verdict(rows).splitlines()
  assert len(lines) == 2
  assert lines[0].startswith('- deep: ') and lines[0].endswith(
      f': {outcome}.')
  assert f'end to end − features = {100 * c.difference:+.1f}' in lines[1]
  headline = report.headline(_summary(rows))
  assert headline == lines[1][2:]
  assert headline.endswith(f'hand-crafted one): {outcome}.')


def test_a_pick_on_its_grids_end_is_noted_beside_the_verdicts():
  rows = [_row('deep', 'raw', 0.2, _errors(0.1, 1), on_edge=True),
          _row('deep', 'features', 0.2, _errors(0.3, 2))]
  note = runner.edge_note(raw=rows[0].scores, features=rows[1].scores)
  assert note and report.verdict(rows).splitlines()[0].endswith(note + '.')
  assert runner.edge_note(**{'end to end': rows[0].scores}) in (
      report.headline(_summary(rows)))


def test_a_diverged_side_leaves_no_comparison():
  rows = [_row('deep', 'raw', 0.2, _errors(0.1, 1, seeds=2)),
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


def test_the_anchor_is_the_lectures_pipeline_and_its_evidence():
  # No published table to reproduce (deepvsshallow/reference has none for
  # this chapter): the anchor names the pipeline, its source, and the
  # raw-waveform result the lecture cites (a tie, not a win).
  anchor = end_to_end.STUDY.chapter.anchor
  assert 'Davis & Mermelstein 1980' in anchor
  assert 'Sainath et al. 2015' in anchor and 'a tie, not a win' in anchor
