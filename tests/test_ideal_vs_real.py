"""Ideal vs real: equal steps on both sets, no test example in the ideal
set's seed, and the study end to end."""

import json
import os

import numpy as np
import pytest

from conftest import study_run
from deepvsshallow import data
from deepvsshallow.errors import UsageError
from deepvsshallow.studies import ideal_vs_real
from experiments.configs import ideal_vs_real as ivr_config



def test_epochs_for_gives_at_least_the_steps():
  # Real: 3,400 / 64 = 53 steps an epoch, 150 epochs = 7,950 steps; ideal:
  # 170,000 / 64 = 2,656 an epoch, so 3 epochs (7,968 steps).
  assert ideal_vs_real.epochs_for(7_950, 170_000, 64) == 3
  assert ideal_vs_real.epochs_for(10, 3_400, 64) == 1
  assert ideal_vs_real.epochs_for(54, 3_400, 64) == 2


def test_architectures_pair_each_deep_net_with_its_match():
  c = ivr_config.get_config('')
  grid = ideal_vs_real.architectures(c, 40, 10)
  assert [f for f, _ in grid] == ['deep', 'shallow'] * len(c.deep_widths)
  assert grid[0] == ('deep', (16, 16, 16))


def test_the_ideal_set_shares_no_example_with_the_real_test_set(tfds_dir):
  real = data.load_dataset('mnist1d', data_dir=tfds_dir,
                           generator={'num_samples': 500, 'seed': 42})
  ideal = data.load_dataset('mnist1d', data_dir=tfds_dir,
                            generator={'num_samples': 2500, 'seed': 1})
  test = real.test().inputs.reshape(100, -1)
  pool = np.concatenate([ideal.train.inputs, ideal.validation.inputs])
  pool = pool.reshape(len(pool), -1)
  nearest = np.min(((test[:, None] - pool[None]) ** 2).sum(-1), axis=1)
  assert nearest.min() > 1e-3


def test_the_real_seed_is_refused_for_the_ideal_set(tmp_path):
  c = ivr_config.get_config('')
  c.ideal_seed = 42
  with pytest.raises(UsageError, match='ideal_seed=42 is the real'):
    ideal_vs_real.train_and_evaluate(c, str(tmp_path / 'never'))
  assert not (tmp_path / 'never').exists()


@pytest.mark.slow
def test_launcher_end_to_end(lecture_runlocal):
  workdir, _ = study_run(lecture_runlocal, 'ideal_vs_real')
  summary = json.loads((workdir / 'results.json').read_text())
  config = ivr_config.get_config('runlocal')
  rows = summary['rows']
  assert len(rows) == 2 * 2 * len(config.deep_widths)
  assert summary['train_examples']['ideal'] > 4 * summary['train_examples'][
      'real']
  real_steps = {r['num_epochs'] * (r['train_examples'] // config.batch_size)
                for r in rows}
  assert all(r['status'] == 'done' for r in rows)
  assert min(real_steps) >= 2 * (summary['train_examples']['real']
                                 // config.batch_size)
  assert sorted(os.listdir(workdir)) == ['config.json', 'populations',
                                         'results.json', 'results.md',
                                         'results.png', 'tensorboard',
                                         'trials.jsonl']
