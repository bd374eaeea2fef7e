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
