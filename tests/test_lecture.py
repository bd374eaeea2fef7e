"""Selection studies (optimism, architecture search) and the lecture report:
checks, splits, and end-to-end runs."""

import json
import os
import shutil

import numpy as np
import pytest

from conftest import launch, refused, study_run
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
def test_lecture_runlocal_lists_every_study_and_links_every_figure(
    lecture_runlocal):
  text = (lecture_runlocal / 'REPORT.md').read_text()
  for i, chapter in enumerate(lecture.CHAPTERS, 1):
    assert f'## {i}. {chapter.title}' in text
    sub = lecture_runlocal / chapter.study
    summary = json.loads((sub / 'results.json').read_text())
    assert summary['study'] == chapter.study
    pngs = [n for n in os.listdir(sub) if n.endswith('.png')]
    assert pngs, chapter.study
    for name in pngs:
      assert f'({chapter.study}/{name})' in text
  assert 'not run' not in text


@pytest.mark.slow
def test_optimism_and_search_launchers_end_to_end(lecture_runlocal):
  workdir, output = study_run(lecture_runlocal, 'optimism')
  summary = json.loads((workdir / 'results.json').read_text())
  config = optimism_config.get_config('runlocal')
  assert list(summary['datasets']) == list(config.datasets)
  for result in summary['datasets'].values():
    assert [r['k'] for r in result['rows']] == list(config.ks)
    assert result['pool'] + result['diverged'] == (
        config.pool_architectures * config.candidates_per_architecture)
  assert '| K | picked: select err % |' in output
  workdir, output = study_run(lecture_runlocal, 'architecture_search')
  summary = json.loads((workdir / 'results.json').read_text())
  config = search_config.get_config('runlocal')
  per_search = config.population_size + (config.generations
                                         * config.children_per_generation)
  assert summary['candidates_per_search'] == per_search
  assert len(summary['runs']) == len(config.methods) * config.search_seeds
  for r in summary['runs']:
    assert len(r['candidates']) == len(r['best_so_far']) == per_search
    assert all(c['params'] <= config.budget for c in r['candidates'])
    assert r['best_so_far'] == sorted(r['best_so_far'], reverse=True)
    assert r['pick']['val_error'] == min(r['best_so_far'])


@pytest.mark.slow
def test_the_lecture_resumes_a_study_that_was_cut_off(lecture_runlocal,
                                                      tmp_path, tfds_dir):
  workdir = tmp_path / 'lecture'
  shutil.copytree(lecture_runlocal, workdir)
  # Cut off: the study's directory holds records but no results.json.
  os.remove(workdir / 'optimism' / 'results.json')
  before = (workdir / 'separation' / 'results.json').stat().st_mtime_ns
  proc = launch('lecture', '--config=experiments/configs/lecture.py:runlocal',
                f'--workdir={workdir}', env={'TFDS_DATA_DIR': tfds_dir})
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert f'(1 studies run, {len(lecture.CHAPTERS) - 1} kept' in proc.stdout
  assert (workdir / 'separation' / 'results.json').stat().st_mtime_ns == (
      before)
  # The rerun started clean: one record per candidate, not two.
  trials = (workdir / 'optimism' / 'trials.jsonl').read_text().splitlines()
  config = optimism_config.get_config('runlocal')
  assert len(trials) == (len(config.datasets) * config.pool_architectures
                         * config.candidates_per_architecture)
  assert lecture_config.get_config('runlocal').studies == lecture.STUDIES


def test_a_lecture_workdir_holds_one_mode_and_no_task_runs(tmp_path,
                                                           monkeypatch):
  from deepvsshallow import store
  from deepvsshallow.errors import UsageError
  report.write_json(str(tmp_path / 'lecture.json'), {'mode': 'runlocal'})
  config = lecture_config.get_config('')
  with pytest.raises(UsageError, match='holds a runlocal lecture, not a '
                     'default one'):
    lecture.run_lecture(config, str(tmp_path))
  monkeypatch.setattr(store, '_EXECUTION', store.Execution(0, 4))
  with pytest.raises(UsageError, match='the lecture runs whole studies'):
    lecture.run_lecture(config, str(tmp_path / 'other'))
  assert not (tmp_path / 'other').exists()


def test_a_study_that_fails_beside_another_stops_the_lecture_after_it(
    tmp_path, monkeypatch):
  """Two at a time: the other study runs to the end and is kept; the
  lecture then stops with one line naming the failed study."""
  from deepvsshallow.errors import UsageError
  ran = []

  def fake_study(study, runlocal, workdir, log_path, prefix='', parallel=1):
    ran.append((study, prefix))
    if study == 'optimism':
      return 1
    os.makedirs(workdir, exist_ok=True)
    report.write_json(os.path.join(workdir, 'results.json'), {'study': study})
    return 0

  monkeypatch.setattr(lecture, 'run_study', fake_study)
  config = lecture_config.get_config('runlocal')
  config.studies = ('separation', 'optimism')
  with pytest.raises(UsageError) as e:
    lecture.run_lecture(config, str(tmp_path))
  assert 'study optimism stopped with exit code 1' in str(e.value)
  assert sorted(ran) == [('optimism', '[optimism] '),
                         ('separation', '[separation] ')]
  assert (tmp_path / 'separation' / 'results.json').exists()
  assert not (tmp_path / 'REPORT.md').exists()
  # One at a time, a failure starts nothing after it.
  ran.clear()
  config.studies = ('separation', 'optimism', 'architecture_search')
  config.parallel = 1
  monkeypatch.setattr(lecture, 'run_study', lambda study, *a, **k: (
      ran.append(study) or (1 if study == 'separation' else 0)))
  with pytest.raises(UsageError, match='study separation stopped'):
    lecture.run_lecture(config, str(tmp_path / 'one'))
  assert ran == ['separation']
  config.parallel = 0
  with pytest.raises(UsageError, match='config.parallel must be an integer '
                     '>= 1, got 0'):
    lecture.run_lecture(config, str(tmp_path / 'other'))
