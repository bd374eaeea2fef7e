"""Selection studies (optimism, architecture search) and the lecture report:
checks, splits, and end-to-end runs."""

import json
import os

import numpy as np
import pytest

from conftest import launch, refused
from deepvsshallow import data, lecture, report
from deepvsshallow.studies import architecture_search, optimism
from experiments.configs import architecture_search as search_config
from experiments.configs import lecture as lecture_config
from experiments.configs import optimism as optimism_config


@pytest.mark.parametrize('overrides,message', [
    (dict(ks=(1, 2, 1024)), 'K=1024 > the pool of 8 candidates'),
    (dict(budget=50), 'is below the smallest architecture (depth 4'),
    (dict(lr_range=(0.1, 0.01)), 'lr_range must be (low, high)'),
    (dict(datasets=('mnist1d', 'imagenet')), "unknown dataset 'imagenet'"),
])
def test_optimism_refuses_bad_configs(tmp_path, overrides, message):
  config = optimism_config.get_config('runlocal')
  config.update(overrides)
  assert message in refused(optimism.train_and_evaluate, config,
                            tmp_path / 'never')


def test_select_and_holdout_halves_partition_validation():
  x = np.arange(20)[:, None].astype(np.float32)
  ds = data.in_memory('toy', data.Split(x, np.arange(20) % 2),
                      data.Split(x[:4], np.zeros(4, np.int64)),
                      val_fraction=0.5, split_seed=0,
                      input_convention='float', task='classification',
                      num_classes=2)
  select, holdout = optimism.split_validation(ds, seed=3)
  a, b = select.validation.inputs[:, 0], holdout.inputs[:, 0]
  assert len(a) == len(b) == 5 and not set(a) & set(b)
  assert sorted([*a, *b]) == sorted(ds.validation.inputs[:, 0])
  np.testing.assert_array_equal(select.train.inputs, ds.train.inputs)


def test_noise_sigma_recovers_a_known_noise():
  rng = np.random.default_rng(0)
  true = rng.uniform(0.2, 0.4, 4000)
  val = true + 0.02 * rng.normal(size=4000)
  holdout = true + 0.02 * rng.normal(size=4000)
  assert optimism.noise_sigma(val, holdout) == pytest.approx(0.02, rel=0.08)


@pytest.mark.parametrize('overrides,message', [
    (dict(generations=0), 'generations must be an integer >= 1'),
    (dict(budget=100), 'below the smallest architecture'),
    (dict(sample_size=9), 'sample_size=9 is larger than'),
    (dict(methods=('evolution', 'annealing')), "unknown 'annealing'"),
])
def test_architecture_search_refuses_bad_configs(tmp_path, overrides,
                                                 message):
  config = search_config.get_config('runlocal')
  config.update(overrides)
  assert message in refused(architecture_search.train_and_evaluate, config,
                            tmp_path / 'never')


def test_an_unknown_study_is_one_line_and_exit_2(tmp_path):
  proc = launch('lecture', "--config.studies=('optimism','astrology')",
                f'--workdir={tmp_path / "never"}', timeout=120)
  assert proc.returncode == 2, proc.stderr
  lines = [l for l in proc.stderr.splitlines() if l.strip()]
  assert len(lines) == 1 and "unknown 'astrology'" in lines[0]
  assert not (tmp_path / 'never').exists()


def test_the_report_lists_every_study_and_links_every_figure(tmp_path,
                                                             monkeypatch):
  """Chapters with results get their verdict, report and every figure;
  chapters without are listed as not run."""
  for chapter in lecture.CHAPTERS[:3]:
    sub = tmp_path / chapter.study
    sub.mkdir()
    report.write_json(str(sub / 'results.json'), {'fake': chapter.study})
    (sub / 'results.md').write_text(
        f'# {chapter.study}\n\n![main](results.png)\n')
    (sub / 'results.png').write_bytes(b'png')
    (sub / 'extra.png').write_bytes(b'png')   # Not linked by its report.
  monkeypatch.setattr(lecture.importlib, 'import_module', lambda name: type(
      'M', (), {'headline': staticmethod(
          lambda s: f'verdict of {s["fake"]}')}))
  text = lecture.render_report(str(tmp_path), lecture.CHAPTERS,
                               runlocal=False)
  for i, chapter in enumerate(lecture.CHAPTERS, 1):
    assert f'## {i}. {chapter.title}' in text
  for chapter in lecture.CHAPTERS[:3]:
    assert f'verdict of {chapter.study}' in text
    assert f'({chapter.study}/results.png)' in text
    assert f'({chapter.study}/extra.png)' in text
    assert f'### {chapter.study}' in text   # Headings one level down.
  assert text.count('not run') == len(lecture.CHAPTERS) - 3


@pytest.mark.slow
def test_lecture_runlocal_end_to_end_and_resume(tmp_path, tfds_dir):
  """Every study's smoke config through the lecture's launcher; a second
  call with one study cut off reruns only that one."""
  workdir = tmp_path / 'lecture'
  proc = launch('lecture', '--config=experiments/configs/lecture.py:runlocal',
                f'--workdir={workdir}', env={'TFDS_DATA_DIR': tfds_dir})
  assert proc.returncode == 0, proc.stderr[-3000:]
  text = (workdir / 'REPORT.md').read_text()
  for i, chapter in enumerate(lecture.CHAPTERS, 1):
    assert f'## {i}. {chapter.title}' in text
    sub = workdir / chapter.study
    summary = json.loads((sub / 'results.json').read_text())
    assert summary['study'] == chapter.study
    for name in os.listdir(sub):
      if name.endswith('.png'):
        assert f'({chapter.study}/{name})' in text
  # Cut one study off (its results.json never written): only it reruns.
  os.remove(workdir / 'optimism' / 'results.json')
  before = (workdir / 'separation' / 'results.json').stat().st_mtime_ns
  proc = launch('lecture', '--config=experiments/configs/lecture.py:runlocal',
                f'--workdir={workdir}', env={'TFDS_DATA_DIR': tfds_dir})
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert '(1 studies run, 9 kept' in proc.stdout
  assert (workdir / 'separation' / 'results.json').stat().st_mtime_ns == before
  trials = (workdir / 'optimism' / 'trials.jsonl').read_text().splitlines()
  config = optimism_config.get_config('runlocal')
  assert len(trials) == (len(config.datasets) * config.pool_architectures
                         * config.candidates_per_architecture)
  assert lecture_config.get_config('runlocal').studies == lecture.STUDIES
