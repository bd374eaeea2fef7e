"""The Colab notebooks, executed top to bottom on CPU (their :runlocal
configs), as a user would run them."""

import os

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


@pytest.mark.slow
@pytest.mark.parametrize('name', _notebooks())
def test_notebook_runs_top_to_bottom(name, tfds_dir, lecture_runlocal):
  """`lecture_runlocal` first: it warms the compilation cache with the same
  programs, as a second run in Colab would find it."""
  import nbclient
  import nbformat
  nb = nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)
  client = nbclient.NotebookClient(nb, timeout=600, kernel_name='python3',
                                   resources={'metadata': {'path': NOTEBOOKS}})
  client.execute()   # Raises CellExecutionError on any failing cell.
  outputs = [o for c in nb.cells if c.cell_type == 'code' for o in c.outputs]
  kinds = {o.get('output_type') for o in outputs}
  assert 'error' not in kinds
  shown = [o for o in outputs if o.get('output_type') == 'display_data']
  assert any('text/markdown' in o['data'] for o in shown)   # The report.
  assert any('image/png' in o['data'] for o in shown)       # A figure.


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
  for name in _notebooks():
    with open(os.path.join(NOTEBOOKS, name)) as f:
      text = f.read()
    assert 'launch/keep_jax.py > /tmp/keep_jax.txt' in text, name
    assert '%pip install -q -e . -c /tmp/keep_jax.txt' in text, name
    assert '%pip install -q -e .\\n' not in text, name
