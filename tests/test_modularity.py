"""The modularity study: its data, its decisions, its checks and a tiny run."""

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow_datasets as tfds

from conftest import config_reads, refused, study_run
from deepvsshallow import data, params
from deepvsshallow.studies import modularity
from experiments.configs import modularity as mod_config



def _toy_split(counts, seed=0):
  groups = np.repeat(np.arange(4), counts)
  groups = groups[np.random.default_rng(seed).permutation(len(groups))]
  attrs = np.stack([groups // 2, groups % 2], 1).astype(np.int32)
  return data.Split(np.arange(len(groups))[:, None], attrs)


def test_subsample_gives_exact_nested_group_counts():
  pool = _toy_split([50, 50, 50, 20])
  small = modularity.subsample(pool, [30, 30, 30, 3], seed=0)
  large = modularity.subsample(pool, [30, 30, 30, 15], seed=0)
  np.testing.assert_array_equal(
      np.bincount(modularity.groups_of(small.targets), minlength=4),
      [30, 30, 30, 3])
  np.testing.assert_array_equal(
      np.bincount(modularity.groups_of(large.targets), minlength=4),
      [30, 30, 30, 15])
  # The smaller set is inside the larger one (ids are the inputs here).
  assert set(small.inputs[:, 0]) <= set(large.inputs[:, 0])


def test_the_rendered_pool_has_the_requested_counts_and_proportions():
  config = mod_config.get_config('runlocal')
  pool = modularity.rendered_pool(config)
  counts = lambda s: np.bincount(modularity.groups_of(s.targets),
                                 minlength=4).tolist()
  assert counts(pool.train) == [60, 60, 60, 5]
  # val_fraction 0.15 of train + validation: 60 -> 11, 5 -> 1.
  assert counts(pool.validation) == [11, 11, 11, 1]
  assert counts(pool.base.test()) == [40, 40, 40, 40]
  assert pool.train.inputs.shape == (185, 16, 16, 1)
  assert pool.train.inputs.dtype == np.uint8


def test_decisions_read_from_each_approach():
  flat = np.array([[0.1, 2.0, 0.0, -1.0], [3.0, 0.0, 0.0, 4.0]])
  np.testing.assert_array_equal(modularity.decide('flat', flat), [1, 3])
  # Modular: group = 2 * (shape logit > 0) + (texture logit > 0).
  heads = np.array([[-1.0, -2.0], [-1.0, 0.5], [2.0, -0.1], [0.3, 0.2]])
  np.testing.assert_array_equal(modularity.decide('modular', heads),
                                [0, 1, 2, 3])
  ovr = [np.array([[0.0], [5.0]]), np.array([[1.0], [0.0]]),
         np.array([[-3.0], [0.0]]), np.array([[0.5], [6.0]])]
  np.testing.assert_array_equal(modularity.decide('one_vs_rest', ovr),
                                [1, 3])


def test_approaches_have_matched_parameter_counts():
  config = mod_config.get_config('')
  shapes = modularity.approach_models(config, 256)
  flat = shapes['flat'][2]
  for approach, (model_fn, _, count) in shapes.items():
    assert params.model_param_count(model_fn) * (
        4 if approach == 'one_vs_rest' else 1) == count
    assert abs(count - flat) / flat < 0.02, approach


@pytest.mark.parametrize('overrides,message', [
    (dict(rare_counts=(5, 2000)), 'rare group cannot outnumber'),
    (dict(attributes=('shape', 'hair_colour')), 'hair_colour unknown'),
    (dict(attributes=('shape', 'shape')), 'two different attributes'),
    (dict(source='imagenet'), 'config.source must be one of'),
    (dict(approaches=('flat', 'ensemble')), "unknown 'ensemble'"),
])
def test_bad_configs_are_refused(tmp_path, overrides, message):
  config = mod_config.get_config('runlocal')
  config.update(overrides)
  assert message in refused(modularity.train_and_evaluate, config,
                            tmp_path / 'never')


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
  with tfds.testing.mock_data(num_examples=20):
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
  with tfds.testing.mock_data(num_examples=20):
    message = refused(modularity.train_and_evaluate, config,
                      tmp_path / 'never')
  assert 'rare-group training examples, but CelebA' in message


@pytest.mark.slow
def test_every_field_is_read_and_every_approach_scored(lecture_runlocal):
  config = mod_config.get_config('runlocal')
  workdir, _ = study_run(lecture_runlocal, 'modularity')
  summary = json.loads((workdir / 'results.json').read_text())
  # data_dir is CelebA's alone.
  assert set(config.keys()) - config_reads(lecture_runlocal,
                                           'modularity') == {'data_dir'}
  assert [(r['rare_count'], r['approach']) for r in summary['rows']] == [
      (5, 'flat'), (5, 'modular'), (5, 'one_vs_rest')]
  assert summary['test_group_counts'] == [40, 40, 40, 40]
  for r in summary['rows']:
    assert r['status'] == 'done'
    # Balanced test set: the mean over groups is the test-set accuracy.
    assert r['mean_over_groups_mean'] == pytest.approx(r['overall_mean'])
    assert r['worst_group_mean'] <= r['rare_mean'] + 1e-12
  trials = (workdir / 'trials.jsonl').read_text().splitlines()
  assert len(trials) == 6 * config.num_seeds   # flat, modular, 4 x ovr.
  assert sorted(os.listdir(workdir)) == [
      'config.json', 'populations', 'results.json', 'results.md',
      'results.png', 'tensorboard', 'trials.jsonl']


@pytest.mark.slow
def test_launcher_end_to_end(lecture_runlocal):
  workdir, output = study_run(lecture_runlocal, 'modularity')
  summary = json.loads((workdir / 'results.json').read_text())
  assert [r['approach'] for r in summary['rows']] == list(
      modularity.APPROACHES)
  assert 'rare-group acc %' in (workdir / 'results.md').read_text()
  assert '| rare train examples | approach |' in output
