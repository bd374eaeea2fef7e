"""deepvsshallow.webpage: a markdown report as one self-contained page."""

import base64
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from deepvsshallow import webpage
from deepvsshallow.errors import UsageError

# A 1x1 PNG, byte for byte.
PNG = base64.b64decode(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwAD'
    'hgGAWjR9awAAAABJRU5ErkJggg==')

REPORT = """# The lecture

| claim | verdict |
|---|---|
| deep beats shallow | inconclusive |

## 1. Depth

Text with <script>alert(1)</script> in it.

![a figure](study/fig.png)

## 1. Depth
"""


def _write(tmp_path, text=REPORT, figure=True):
  if figure:
    (tmp_path / 'study').mkdir()
    (tmp_path / 'study' / 'fig.png').write_bytes(PNG)
  (tmp_path / 'REPORT.md').write_text(text)
  return str(tmp_path / 'REPORT.md')


def test_the_page_embeds_every_figure_and_links_its_headings(tmp_path):
  path = webpage.export(_write(tmp_path))
  assert path == str(tmp_path / 'REPORT.html')
  page = open(path).read()
  # The figure's own bytes, as a data URI; no file is referred to.
  assert f'src="data:image/png;base64,{base64.b64encode(PNG).decode()}"' in (
      page)
  assert 'fig.png"' not in page
  assert '<title>The lecture</title>' in page
  assert '<table>' in page and '<td>inconclusive</td>' in page
  # Raw HTML in the markdown is text, not markup: no script runs.
  assert '<script' not in page and '&lt;script&gt;' in page
  # The contents link each heading; a repeated heading gets its own id.
  for slug in ('the-lecture', '1-depth', '1-depth-2'):
    assert f'id="{slug}"' in page and f'href="#{slug}"' in page


def test_a_missing_figure_is_one_line_and_nothing_is_written(tmp_path):
  md = _write(tmp_path, figure=False)
  with pytest.raises(UsageError) as e:
    webpage.export(md)
  assert 'fig.png' in str(e.value) and '\n' not in str(e.value)
  assert sorted(os.listdir(tmp_path)) == ['REPORT.md']


def test_the_command_line_exports_or_says_one_line(tmp_path):
  md = _write(tmp_path)
  run = lambda *a: subprocess.run([sys.executable, '-m',
                                   'deepvsshallow.webpage', *a],
                                  capture_output=True, text=True, cwd=ROOT)
  proc = run(md)
  assert proc.returncode == 0 and (tmp_path / 'REPORT.html').exists()
  proc = run(str(tmp_path / 'nothing.md'))
  assert proc.returncode == 2 and proc.stderr.count('\n') == 1
  assert 'nothing.md' in proc.stderr
