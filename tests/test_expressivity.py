"""The expressivity study (lab part 1) end to end, and its bad inputs."""

import json
import os

import pytest
from conftest import config_reads, launch, refused, study_run

from deepvsshallow.studies import expressivity
from experiments.configs import expressivity as expressivity_config




@pytest.mark.slow
def test_launcher_end_to_end(lecture_runlocal):
  """runlocal through the launcher: every section's table and figure, the
  constructions at their closed forms, and a trial record per candidate."""
  workdir, output = study_run(lecture_runlocal, 'expressivity')
  files = sorted(os.listdir(workdir))
  assert files == sorted(['config.json', 'populations', 'results.json',
                          'results.md', 'tensorboard', 'trials.jsonl',
                          'hidden_layer.png', 'sawtooth.png', 'square.png',
                          'regions.png', 'training.png'])
  for name in files:
    if name.endswith('.png'):
      assert (workdir / name).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
  summary = json.loads((workdir / 'results.json').read_text())
  config = expressivity_config.get_config('runlocal')
  s = summary['sections']
  assert [r['pieces'] for r in s['sawtooth']] == [
      2 ** k for k in range(1, config.sawtooth_max_k + 1)]
  assert [r['deep_error'] for r in s['square']] == [
      2.0 ** (-2 * m - 2) for m in range(1, config.square_max_m + 1)]
  assert all(r['tree_exact'] and r['bitcount_exact'] for r in s['parity'])
  assert [r['n'] for r in s['parity']] == list(range(2, config.parity_max_n
                                                     + 1))
  rows = summary['training']
  num_problems = (len(config.train_tent_k) * len(config.tent_widths) + 1
                  + len(config.train_parity_n))
  assert len(rows) == 2 * num_problems
  assert all(r['status'] == 'done' for r in rows)
  for r in rows:
    if 'pieces' in r:   # A trained net cannot exceed its architecture's max.
      assert 1 <= min(r['pieces']['per_seed'])
      assert max(r['pieces']['per_seed']) <= r['max_pieces']
  with open(workdir / 'trials.jsonl') as f:
    assert len(f.readlines()) == len(rows) * config.num_seeds * len(
        config.learning_rates)
  md = (workdir / 'results.md').read_text()
  for heading in ('## 1. Why a hidden layer', '## 2. Depth folds space',
                  '## 3. x²', '## 4. Parity, honestly',
                  '## 5. Counting pieces and regions',
                  '## 6. What training finds'):
    assert heading in md


@pytest.mark.slow
def test_every_config_field_is_read(lecture_runlocal):
  config = expressivity_config.get_config('runlocal')
  assert set(config.keys()) - config_reads(lecture_runlocal,
                                           'expressivity') == set()


BAD_CONFIGS = [
    (dict(sawtooth_max_k=0), 'sawtooth_max_k must be an integer in [1, 16]'),
    (dict(square_max_m=-1), 'square_max_m must be an integer in [1, 10]'),
    (dict(parity_max_n=17), 'parity_max_n must be an integer in [1, 16]'),
    (dict(parity_max_n=1), 'parity_max_n must be at least 2'),
    (dict(train_parity_n=(1,)), 'train_parity_n must be'),
    (dict(train_parity_n=(20,)), 'train_parity_n must be in [2, 16]'),
    (dict(train_tent_k=(0,)), 'train_tent_k must be'),
    (dict(interp_pieces=()), 'interp_pieces must be a non-empty'),
    (dict(region_deep=(4, 0)), 'region_deep must be'),
    (dict(batch_size=4096), 'larger than the smallest training set'),
    (dict(learning_rates=(-1.0,)), 'learning_rates must be positive'),
]


@pytest.mark.parametrize('overrides,message', BAD_CONFIGS,
                         ids=[next(iter(o)) + str(i)
                              for i, (o, _) in enumerate(BAD_CONFIGS)])
def test_bad_config_is_one_usage_line_and_writes_nothing(overrides, message,
                                                         tmp_path):
  config = expressivity_config.get_config('')
  config.update(overrides)
  assert message in refused(expressivity.train_and_evaluate, config, tmp_path / 'never_created')


def test_launcher_bad_input_is_one_line_and_exit_2(tmp_path):
  workdir = tmp_path / 'never_created'
  proc = launch('expressivity', '--config.parity_max_n=17', '--config.sawtooth_max_k=0',
                 f'--workdir={workdir}')
  lines = [l for l in proc.stderr.splitlines() if l.strip()]
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert len(lines) == 2 and all(l.startswith('error: ') for l in lines)
  assert any('parity_max_n' in l and '17' in l for l in lines)
  assert 'Traceback' not in proc.stderr + proc.stdout
  assert not workdir.exists()


def test_unknown_config_argument_is_refused():
  with pytest.raises(ValueError, match='runlocal'):
    expressivity_config.get_config('mnist')
