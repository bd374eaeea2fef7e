"""The separation study: its pair checks and a tiny end-to-end run."""

import json
import os

import pytest

from conftest import config_reads, refused, study_run
from deepvsshallow.studies import separation
from experiments.configs import separation as sep_config



@pytest.mark.parametrize('pair', [(4, 12), (3, 3), (4,), (-1, 2)])
def test_a_pair_of_labels_that_do_not_exist_is_refused(tmp_path, pair):
  config = sep_config.get_config('digits,runlocal')
  config.pair = pair
  message = refused(separation.train_and_evaluate, config,
                    tmp_path / 'never')
  assert f'config.pair={pair} is not two different class labels' in message


def test_a_shallow_deep_net_is_refused(tmp_path):
  config = sep_config.get_config('runlocal')
  config.deep_hidden = (64,)
  assert 'at least 2 layers' in refused(separation.train_and_evaluate,
                                        config, tmp_path / 'never')


@pytest.mark.slow
def test_every_field_is_read_and_every_layer_is_measured(lecture_runlocal):
  config = sep_config.get_config('runlocal')
  workdir, _ = study_run(lecture_runlocal, 'separation')
  summary = json.loads((workdir / 'results.json').read_text())
  assert set(config.keys()) - config_reads(lecture_runlocal,
                                           'separation') == set()
  a, b = summary['pair']   # Most confused on validation: off the diagonal.
  counts = summary['confusion_validation']
  assert a != b and counts[a][b] + counts[b][a] == max(
      counts[i][j] + counts[j][i] for i in range(10) for j in range(10)
      if i != j)
  layers = [(r['family'], r['layer']) for r in summary['rows']]
  assert layers == [('deep', 0), ('deep', 1), ('deep', 2), ('shallow', 0),
                    ('shallow', 1)]
  # Layer 0 is the input for both nets: the same probe, the same ratio.
  deep0, shallow0 = summary['rows'][0], summary['rows'][3]
  assert deep0['probe_accuracy_mean'] == shallow0['probe_accuracy_mean']
  assert deep0['fisher_mean'] == pytest.approx(shallow0['fisher_mean'])
  assert len(summary['projections']) == 5   # PCA of each layer.
  assert len(summary['projection_labels']) == min(
      config.projection_points, summary['pair_examples']['test'])


@pytest.mark.slow
def test_launcher_end_to_end(lecture_runlocal):
  workdir, _ = study_run(lecture_runlocal, 'separation')
  summary = json.loads((workdir / 'results.json').read_text())
  assert summary['pair_from'] == 'validation'
  assert len(summary['confusion_validation']) == 10
  assert sorted(os.listdir(workdir)) == [
      'config.json', 'populations', 'projections.png', 'results.json',
      'results.md', 'separation.png', 'tensorboard', 'trials.jsonl']
