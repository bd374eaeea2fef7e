"""The Colab notebooks, executed top to bottom on CPU (their :runlocal
configs), as a user would run them."""

import os
import re
import shutil

import pytest

from conftest import ROOT

NOTEBOOKS = os.path.join(ROOT, 'notebooks')


def _notebooks():
  return sorted(n for n in os.listdir(NOTEBOOKS) if n.endswith('.ipynb'))


def test_notebooks_are_stored_without_outputs():
  import nbformat
  for name in _notebooks():
    nb = nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)
    for cell in nb.cells:
      if cell.cell_type == 'code':
        assert not cell.outputs and cell.execution_count is None, name
    assert 'runlocal' in ''.join(c.source for c in nb.cells)


def _setup_cell(name):
  import nbformat
  nb = nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)
  return next(c for c in nb.cells if c.cell_type == 'code').source


def test_every_notebook_starts_with_the_same_setup_cell():
  cells = {_setup_cell(name) for name in _notebooks()}
  assert len(cells) == 1 and len(_notebooks()) == 4


def _execute(nb, path, **kwargs):
  import nbclient
  client = nbclient.NotebookClient(nb, timeout=600, kernel_name='python3',
                                   resources={'metadata': {'path': path}},
                                   **kwargs)
  client.execute()   # Raises CellExecutionError on a failing cell.
  return [o for c in nb.cells if c.cell_type == 'code' for o in c.outputs]


def _setup_alone(tmp_path, repo_url=''):
  """The setup cell run in `tmp_path` (no clone there), REPO_URL set."""
  import nbformat
  cell = _setup_cell('lecture.ipynb').replace(
      "REPO_URL = ''", f'REPO_URL = {repo_url!r}', 1)
  nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
  outputs = _execute(nb, str(tmp_path), allow_errors=True)
  return [(o['ename'], o['evalue']) for o in outputs
          if o.get('output_type') == 'error']


def test_a_notebook_outside_a_clone_says_to_set_repo_url(tmp_path):
  """Opened where there is no clone (a downloaded .ipynb, Colab) with
  REPO_URL empty: one line saying what to set, and no clone attempted."""
  assert _setup_alone(tmp_path) == [(
      'SystemExit', 'Not in a clone of deepvsshallow: set REPO_URL in this '
      'cell to its git URL, then run the cell again.')]
  assert os.listdir(tmp_path) == []


def test_a_failing_setup_step_stops_the_cell_with_one_line(tmp_path):
  """A clone that fails (here: a REPO_URL that is no repository) stops
  the cell there, saying so in one line; nothing is installed."""
  [(name, value)] = _setup_alone(tmp_path, str(tmp_path / 'no-such-repo'))
  assert name == 'SystemExit' and '\n' not in value
  assert value.startswith('git clone -q ... failed (exit 128')
  assert os.listdir(tmp_path) == []


@pytest.mark.slow
@pytest.mark.parametrize('name', _notebooks())
def test_notebook_runs_top_to_bottom(name, tfds_dir, lecture_runlocal,
                                     tmp_path, monkeypatch):
  """`lecture_runlocal` first: it warms the compilation cache with the same
  programs, as a second run in Colab would find it. The lecture's notebook
  resumes a copy of that lecture with one study cut off (it runs that
  study, keeps the others and writes the report again)."""
  import nbformat
  nb = nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)
  if name == 'lecture.ipynb':
    workdir = tmp_path / 'lecture'
    shutil.copytree(lecture_runlocal, workdir)
    for report in ('REPORT.md', 'REPORT.html'):
      os.remove(workdir / report)
    os.remove(workdir / 'end_to_end' / 'results.json')
    monkeypatch.setenv('LECTURE_WORKDIR', str(workdir))
    monkeypatch.setenv('TFDS_DATA_DIR', tfds_dir)
  outputs = _execute(nb, NOTEBOOKS)
  kinds = {o.get('output_type') for o in outputs}
  assert 'error' not in kinds
  shown = [o for o in outputs if o.get('output_type') == 'display_data']
  if name == 'lecture.ipynb':
    text = ''.join(o.get('text', '') for o in outputs)
    assert '(1 studies run, 10 kept' in text, text[-2000:]
    [frame] = [o['data']['text/html'] for o in shown]
    assert frame.startswith('<iframe srcdoc="&lt;!doctype html&gt;')
    figures = re.findall(r'!\[[^\]]*\]\(',
                         (workdir / 'REPORT.md').read_text())
    assert frame.count('src=&quot;data:image/png;base64,') == len(figures)
    assert len(figures) >= 11
    _links_stay_in_the_frame(frame, tmp_path)
    return
  assert any('text/markdown' in o['data'] for o in shown)   # The report.
  assert any('image/png' in o['data'] for o in shown)       # A figure.


def _links_stay_in_the_frame(frame: str, tmp_path) -> None:
  """In Chromium, where it is installed: a click on the page's last
  contents link, inside the notebook's frame, scrolls the frame to that
  chapter (without <base>, a srcdoc frame would load the notebook's own
  URL instead)."""
  import chromium
  if chromium.executable() is None:
    return
  parent = tmp_path / 'notebook.html'
  parent.write_text(f'<!doctype html><html><body>{frame}</body></html>',
                    encoding='utf-8')
  frame_js = 'document.querySelector("iframe")'
  click = (f'const links = {frame_js}.contentDocument.querySelectorAll('
           '"nav a"); links[links.length - 1].click()')
  where = (f'JSON.stringify([{frame_js}.contentWindow.location.href, '
           f'{frame_js}.contentWindow.scrollY])')
  href, scrolled = chromium.probe(str(parent), where, str(tmp_path),
                                  act=click, wait_ms=500)
  contents = frame[frame.index('&lt;nav&gt;'):frame.index('&lt;/nav&gt;')]
  slug = re.findall(r'href=&quot;#([^&]+)&quot;', contents)
  assert href == f'about:srcdoc#{slug[-1]}' and scrolled > 1000, (
      href, scrolled)


def test_colab_installs_keep_the_runtimes_jax(tmp_path):
  """launch/keep_jax.py pins the JAX this environment has (as jax itself
  reports it), and every notebook installs under those constraints."""
  import subprocess
  import sys

  import jax
  proc = subprocess.run([sys.executable, os.path.join(ROOT, 'launch',
                                                      'keep_jax.py')],
                        capture_output=True, text=True, timeout=60)
  assert proc.returncode == 0, proc.stderr
  pins = dict(line.split('==') for line in proc.stdout.split())
  assert pins['jax'] == jax.__version__
  assert pins['jaxlib'] == jax.lib.__version__
  assert 'keeping the installed jax' in proc.stderr
  # The family: every accelerator plugin pip could swap, not JAX libraries.
  sys.path.insert(0, os.path.join(ROOT, 'launch'))
  try:
    import keep_jax
  finally:
    sys.path.pop(0)
  assert all(keep_jax.JAX_FAMILY.match(n) for n in (
      'jax', 'jaxlib', 'jax-cuda12-plugin', 'jax-cuda13-pjrt',
      'jax-rocm7-plugin', 'libtpu', 'libtpu-nightly'))
  assert not any(keep_jax.JAX_FAMILY.match(n) for n in (
      'jax-md', 'jaxtyping', 'jax-dataclasses', 'flax'))
  setup = _setup_cell('lecture.ipynb')   # Every notebook's (tested).
  assert ("run(sys.executable, os.path.join(clone, 'launch', "
          "'keep_jax.py'))") in setup
  assert ("run(sys.executable, '-m', 'pip', 'install', '-q', '-e', clone, "
          "'-c', '/tmp/keep_jax.txt')") in setup
