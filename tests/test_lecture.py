"""The lecture: its registry of studies, its report, resuming, and the
one-line errors."""

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading

import pytest

import chromium
from conftest import ROOT, launch
from deepvsshallow import lecture, report, studies
from deepvsshallow.errors import UsageError
from deepvsshallow.runner import Execution

ALL = studies.names()


def test_the_registry_lists_each_study_once_with_its_own_record():
  registry = studies.registry()
  assert len(ALL) == 11 and len(set(ALL)) == 11
  # The lecture's default leaves out only the study that runs on its own
  # (32 minutes); :runlocal runs every one.
  assert set(ALL) - set(studies.lecture_names()) == {'data_size'}
  assert lecture.get_config('').studies == studies.lecture_names()
  assert lecture.get_config('runlocal').studies == ALL
  for name, study in registry.items():
    assert study.name == name
    assert study.chapter.title and study.chapter.claim and study.chapter.anchor
    # Each default and :runlocal config passes its own schema.
    for arg in ('', 'runlocal'):
      assert study.fields.problems(study.get_config(arg)) == [], (name, arg)
    assert study.config_file.endswith(
        os.path.join('studies', name, 'config.py'))
  with pytest.raises(UsageError) as e:
    studies.get('astrology')
  assert '\n' not in str(e.value) and all(n in str(e.value) for n in ALL)


def test_the_readme_lists_the_registry_in_order():
  text = open(os.path.join(ROOT, 'README.md')).read()
  line = text[text.index("one package per study, in the lecture's order:"):]
  listed = line[line.index(':') + 1:line.index('__init__.py')]
  assert [n.strip() for n in listed.split(',')] == list(ALL)


def test_no_module_outside_studies_names_a_study():
  package = os.path.join(ROOT, 'deepvsshallow')
  for folder in (package, os.path.join(package, 'ops')):
    for file in sorted(os.listdir(folder)):
      if file.endswith('.py'):
        text = open(os.path.join(folder, file)).read()
        named = [n for n in ALL if re.search(rf'\b{n}\b', text)]
        assert not named, (file, named)


def test_importing_the_package_leaves_jax_state_unchanged():
  """A jitted jax.random.bits lowers the same before and after importing
  every module (the Threefry lowering is switched on by runtime.setup)."""
  code = '''
import importlib, pkgutil, jax, jax.numpy as jnp
hlo = lambda: jax.jit(lambda k: jax.random.bits(k, (4,))).lower(
    jax.random.key(0)).as_text()
before = hlo()
import deepvsshallow
names = [m.name for m in pkgutil.walk_packages(deepvsshallow.__path__,
                                               'deepvsshallow.')]
for name in names:
  if not name.endswith('__main__'):
    importlib.import_module(name)
assert len(names) > 40, names
print(hlo() == before)
from deepvsshallow import runtime
runtime.setup(compilation_cache=False)
print(hlo() == before)
'''
  out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                       text=True, timeout=300, cwd=ROOT)
  assert out.returncode == 0, out.stderr[-2000:]
  # Unchanged by the imports; changed (our lowering) by the explicit call.
  assert out.stdout.split() == ['True', 'False']


def test_a_launch_imports_no_module_it_needs_only_on_demand():
  """scipy.signal (the syllables' generator, about 0.6 s to import) and
  matplotlib (figures) load when used, not with every launcher process."""
  code = '''
import sys
from deepvsshallow import cli, lecture, studies
for name in studies.names():
  studies.get(name)
print(' '.join(m for m in ('scipy.signal', 'matplotlib') if m in sys.modules))
'''
  out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                       text=True, timeout=300, cwd=ROOT)
  assert out.returncode == 0, out.stderr[-2000:]
  assert out.stdout.split() == []


def test_an_unknown_study_is_one_line_and_exit_2(tmp_path):
  proc = launch('lecture', "--config.studies=('optimism','astrology')",
                f'--workdir={tmp_path / "never"}', timeout=120)
  assert proc.returncode == 2, proc.stderr
  lines = [l for l in proc.stderr.splitlines() if l.strip()]
  assert len(lines) == 1 and lines[0].startswith('error: config.studies')
  assert not (tmp_path / 'never').exists()


def test_python_m_deepvsshallow_names_the_studies_when_given_none(tmp_path):
  proc = subprocess.run([sys.executable, '-m', 'deepvsshallow', '--x'],
                        capture_output=True, text=True, timeout=120)
  assert proc.returncode == 2
  lines = [l for l in proc.stderr.splitlines() if l.strip()]
  assert len(lines) == 1 and all(n in lines[0] for n in ALL)


def test_the_report_lists_every_study_and_links_every_figure(tmp_path,
                                                             monkeypatch):
  """Chapters with results get their verdict, report and every figure;
  chapters without are listed as not run."""
  registry = studies.registry()
  chapters = [s.__class__(**{**s.__dict__, 'headline': lambda summary: (
      f'verdict of {summary["fake"]}')}) for s in registry.values()]
  for s in chapters[:3]:
    sub = tmp_path / s.name
    sub.mkdir()
    report.write_json(str(sub / 'results.json'), {'fake': s.name})
    (sub / 'results.md').write_text(f'# {s.name}\n\n![main](results.png)\n')
    (sub / 'results.png').write_bytes(b'png')
    (sub / 'extra.png').write_bytes(b'png')   # Not linked by its report.
  text = lecture.render_report(str(tmp_path), chapters, runlocal=False)
  for i, s in enumerate(chapters, 1):
    assert f'## {i}. {s.chapter.title}' in text
  for s in chapters[:3]:
    assert f'verdict of {s.name}' in text
    assert f'({s.name}/results.png)' in text
    assert f'({s.name}/extra.png)' in text
    assert f'### {s.name}' in text   # Headings one level down.
  assert text.count('not run') == len(chapters) - 3


@pytest.mark.slow
def test_lecture_runlocal_lists_every_study_and_links_every_figure(
    lecture_runlocal):
  text = (lecture_runlocal / 'REPORT.md').read_text()
  for i, s in enumerate(studies.registry().values(), 1):
    assert f'## {i}. {s.chapter.title}' in text
    assert s.chapter.anchor in text
    sub = lecture_runlocal / s.name
    summary = json.loads((sub / 'results.json').read_text())
    assert summary['study'] == s.name
    assert s.headline(summary).replace('|', '/') in text
    pngs = [n for n in os.listdir(sub) if n.endswith('.png')]
    assert pngs, s.name
    for name in pngs:
      assert f'({s.name}/{name})' in text
  assert 'not run' not in text
  # The same as one page: every figure the report links, embedded.
  page = (lecture_runlocal / 'REPORT.html').read_text()
  assert page.count('src="data:image/png;base64,') == len(
      re.findall(r'!\[[^\]]*\]\(', text))
  # The verdict table's links into the chapters resolve on the page.
  for anchor in re.findall(r'\]\(#([^)]+)\)', text):
    assert f'id="{anchor}"' in page, anchor
  assert '<img src="' not in page.replace('<img src="data:', '')


@pytest.mark.slow
def test_the_lecture_page_shows_every_figure_in_chromium(lecture_runlocal,
                                                          tmp_path):
  """REPORT.html opened in a real browser: every image decoded at its PNG's
  own size, and the top of the page is not blank (the screenshot's path is
  printed: look at it)."""
  if chromium.executable() is None:
    pytest.skip('Chromium is not installed (Debian: apt-get install '
                'chromium), so REPORT.html was not opened in a browser')
  from PIL import Image
  text = (lecture_runlocal / 'REPORT.md').read_text()
  links = re.findall(r'!\[[^\]]*\]\(([^)]+)\)', text)
  sizes = []
  for link in links:
    with Image.open(lecture_runlocal / link) as image:
      sizes.append((True, *image.size))
  assert len(links) >= len(ALL)
  page = str(lecture_runlocal / 'REPORT.html')
  assert chromium.decoded_images(page, str(tmp_path)) == sizes
  shot = tmp_path / 'REPORT.png'
  grey = chromium.screenshot(page, str(shot))
  print(f'screenshot of REPORT.html: {shot}')
  assert grey.shape == (1600, 1280)
  assert chromium.inked(grey) > 0.05
  assert chromium.inked(grey[:, 400:]) > 0.05   # The report, not only its
  # table of contents.
  # The checks can fail: an image that does not decode reads 0 x 0, and a
  # blank page has no ink.
  broken = tmp_path / 'broken.html'
  broken.write_text('<!doctype html><html><body><img src="data:image/png;'
                    'base64,iVBORw0KGgoAAAAN"></body></html>')
  assert chromium.decoded_images(str(broken), str(tmp_path)) == [
      (True, 0, 0)]
  blank = tmp_path / 'blank.html'
  blank.write_text('<!doctype html><html><body></body></html>')
  assert chromium.inked(chromium.screenshot(
      str(blank), str(tmp_path / 'blank.png'))) == 0


@pytest.mark.slow
def test_a_missing_figure_stops_the_report_with_one_line(lecture_runlocal,
                                                         tmp_path):
  """Every study finished but a figure gone: one line naming it, and the
  earlier REPORT.md and REPORT.html are left as they were (not a new
  REPORT.md beside an old page)."""
  workdir = tmp_path / 'lecture'
  shutil.copytree(lecture_runlocal, workdir)
  before = {n: (workdir / n).read_bytes() for n in ('REPORT.md',
                                                   'REPORT.html')}
  os.remove(workdir / 'separation' / 'separation.png')
  with pytest.raises(UsageError) as e:
    lecture.run_lecture(lecture.get_config('runlocal'), str(workdir))
  assert str(workdir / 'separation' / 'separation.png') in str(e.value)
  assert '\n' not in str(e.value)
  assert {n: (workdir / n).read_bytes() for n in before} == before
  assert not [n for n in os.listdir(workdir) if n.startswith('.tmp')]


@pytest.mark.slow
def test_the_lecture_resumes_a_study_that_was_cut_off(lecture_runlocal,
                                                      tmp_path, tfds_dir):
  workdir = tmp_path / 'lecture'
  shutil.copytree(lecture_runlocal, workdir)
  # Cut off: the study's directory holds records but no results.json.
  os.remove(workdir / 'optimism' / 'results.json')
  before = (workdir / 'separation' / 'results.json').stat().st_mtime_ns
  proc = launch('lecture', '--config=:runlocal', f'--workdir={workdir}',
                env={'TFDS_DATA_DIR': tfds_dir})
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert f'(1 studies run, {len(ALL) - 1} kept' in proc.stdout
  assert (workdir / 'separation' / 'results.json').stat().st_mtime_ns == (
      before)
  # The rerun (its own process) loaded every saved population: the same
  # records, one per candidate, not two.
  assert (workdir / 'optimism' / 'trials.jsonl').read_text() == (
      lecture_runlocal / 'optimism' / 'trials.jsonl').read_text()
  assert lecture.get_config('runlocal').studies == ALL


def test_a_lecture_workdir_holds_one_mode_and_no_task_runs(tmp_path):
  report.write_json(str(tmp_path / 'lecture.json'), {'mode': 'runlocal'})
  config = lecture.get_config('')
  with pytest.raises(UsageError, match='holds a runlocal lecture'):
    lecture.run_lecture(config, str(tmp_path))
  with pytest.raises(UsageError, match='task'):
    lecture.run_lecture(config, str(tmp_path / 'other'),
                        execution=Execution(0, 4))
  assert not (tmp_path / 'other').exists()


def test_a_study_that_fails_beside_another_stops_the_lecture_after_it(
    tmp_path, monkeypatch):
  """Two at a time: the other study runs to the end and is kept; the
  lecture then stops with one line naming the failed study."""
  ran = []
  both_started = threading.Barrier(2, timeout=60)

  def fake_study(study, runlocal, workdir, log_path, prefix='', parallel=1,
                 allow_config_change=False):
    ran.append((study, prefix))
    both_started.wait()
    if study == 'optimism':
      return 1
    os.makedirs(workdir, exist_ok=True)
    report.write_json(os.path.join(workdir, 'results.json'), {'study': study})
    return 0

  monkeypatch.setattr(lecture, 'run_study', fake_study)
  config = lecture.get_config('runlocal')
  config.studies = ('separation', 'optimism')
  with pytest.raises(UsageError) as e:
    lecture.run_lecture(config, str(tmp_path))
  assert 'study optimism' in str(e.value) and '\n' not in str(e.value)
  assert sorted(ran) == [('optimism', '[optimism] '),
                         ('separation', '[separation] ')]
  assert (tmp_path / 'separation' / 'results.json').exists()
  assert not (tmp_path / 'REPORT.md').exists()
  # One at a time, the longest first (Study.minutes), and a failure starts
  # nothing after it.
  config.studies = ('separation', 'optimism', 'architecture_search')
  config.parallel = 1
  longest_first = sorted(config.studies,
                         key=lambda name: -studies.get(name).minutes)
  assert longest_first != list(config.studies)   # The order is tested.
  ran.clear()

  def finishes(study, runlocal, workdir, *args, **kwargs):
    ran.append(study)
    os.makedirs(workdir)
    report.write_json(os.path.join(workdir, 'results.json'), {'study': study})
    return 0

  monkeypatch.setattr(lecture, 'run_study', finishes)
  monkeypatch.setattr(lecture, 'render_report', lambda *a, **k: '')
  lecture.run_lecture(config, str(tmp_path / 'all'))
  assert ran == longest_first
  ran.clear()
  monkeypatch.setattr(lecture, 'run_study', lambda study, *a, **k: (
      ran.append(study) or (1 if study == longest_first[0] else 0)))
  with pytest.raises(UsageError, match=f'study {longest_first[0]}'):
    lecture.run_lecture(config, str(tmp_path / 'one'))
  assert ran == longest_first[:1]
  config.parallel = 0
  with pytest.raises(UsageError, match='^config.parallel'):
    lecture.run_lecture(config, str(tmp_path / 'other'))


def test_a_full_disk_is_one_line_and_leaves_no_temporary_file(
    tmp_path, monkeypatch):
  """ENOSPC while writing: one UsageError line naming the file; the
  temporary file is gone and the previous version is intact."""
  path = tmp_path / 'results.json'
  path.write_text('old')
  real_write = os.fdopen

  class Full:
    def __init__(self, fd, mode):
      self.f = real_write(fd, mode)
    def __enter__(self):
      return self
    def __exit__(self, *a):
      self.f.close()
    def write(self, data):
      self.f.write(data[:3])
      raise OSError(28, 'No space left on device')

  monkeypatch.setattr(os, 'fdopen', Full)
  with pytest.raises(UsageError) as e:
    report.atomic_write(str(path), 'new contents')
  assert str(path) in str(e.value) and '\n' not in str(e.value)
  assert os.listdir(tmp_path) == ['results.json']
  assert path.read_text() == 'old'


@pytest.mark.parametrize('umask', [0o022, 0o077, 0o002])
def test_a_written_file_has_the_mode_open_gives(tmp_path, umask):
  """atomic_write's files get 0666 less the umask, as open() gives (not
  its temporary file's 0600): results a cluster's group can read."""
  old = os.umask(umask)
  try:
    report.atomic_write(str(tmp_path / 'page.html'), 'x')
    with open(tmp_path / 'plain', 'w'):
      pass
  finally:
    os.umask(old)
  mode = os.stat(tmp_path / 'page.html').st_mode & 0o777
  assert mode == 0o666 & ~umask == os.stat(tmp_path / 'plain').st_mode & 0o777


def test_the_readmes_adding_a_study_example_runs(tmp_path, tfds_dir):
  """The README's three files, as a package beside the studies: the record
  validates, trains and reports."""
  text = open(os.path.join(ROOT, 'README.md')).read()
  example = text[text.index('# deepvsshallow/studies/my_study/config.py'):]
  example = example[:example.index('```')]
  package = tmp_path / 'my_study'
  package.mkdir()
  for part in example.split('# deepvsshallow/studies/my_study/')[1:]:
    name, code = part.split('\n', 1)
    (package / name.strip()).write_text(code)
  import importlib
  monkey_path = list(studies.__path__)
  studies.__path__.append(str(tmp_path))
  try:
    my_study = importlib.import_module('deepvsshallow.studies.my_study')
    config = my_study.STUDY.get_config('runlocal')
    summary = my_study.STUDY.train_and_evaluate(config, str(tmp_path / 'run'))
  finally:
    studies.__path__[:] = monkey_path
  assert summary['scores']['status'] == 'done'
  assert len(summary['scores']['test_per_seed']) == config.num_seeds == 3
  assert my_study.STUDY.headline(summary).startswith('test error 0.')
  assert (tmp_path / 'run' / 'results.md').exists()
  bad = my_study.STUDY.get_config('')
  bad.width = 0
  with pytest.raises(UsageError, match='^config.width'):
    my_study.STUDY.train_and_evaluate(bad, str(tmp_path / 'never'))


def test_a_full_disk_after_training_keeps_the_population_and_says_one_line(
    tmp_path, monkeypatch, tfds_dir):
  """ENOSPC while writing TensorBoard files (after a population trained):
  the population is saved first, the run ends with one line, and a rerun
  with space loads it instead of training again."""
  from deepvsshallow import runner as runner_lib
  from deepvsshallow.studies import weight_sharing
  config = weight_sharing.STUDY.get_config('runlocal')
  config.families, config.datasets = ('gru',), ('mnist1d',)

  def full(*args, **kwargs):
    raise OSError(28, 'No space left on device')

  monkeypatch.setattr(runner_lib, '_write_tensorboard', full)
  with pytest.raises(UsageError) as e:
    weight_sharing.train_and_evaluate(config, str(tmp_path / 'run'))
  assert 'tensorboard' in str(e.value) and '\n' not in str(e.value)
  assert os.listdir(tmp_path / 'run' / 'populations') == ['0000.npz']
  monkeypatch.undo()
  out = io.StringIO()
  with contextlib.redirect_stdout(out):
    weight_sharing.train_and_evaluate(config, str(tmp_path / 'run'))
  assert 'resumed from disk' in out.getvalue()
