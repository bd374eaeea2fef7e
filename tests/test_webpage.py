"""deepvsshallow.webpage: a markdown report as one self-contained page."""

import base64
import os
import re
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
  for slug in ('the-lecture', '1-depth', '1-depth-1'):
    assert f'id="{slug}"' in page and f'href="#{slug}"' in page
  # The contents nest: a level-2 list inside the level-1 item.
  assert ('<ul><li><a href="#the-lecture">The lecture</a><ul><li>'
          '<a href="#1-depth">1. Depth</a></li><li>') in page


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


# github-slugger's own fixtures (github.com/Flet/github-slugger,
# test/fixtures.json): GitHub's heading anchors, in order (repeats count).
SLUGGER_FIXTURES = [
    ('alpha', 'alpha'), ('alpha', 'alpha-1'),
    ('bravoCharlieDelta', 'bravocharliedelta'),
    ('echo', 'echo'), ('echo', 'echo-1'), ('echo 1', 'echo-1-1'),
    ('echo-1', 'echo-1-2'), ('echo', 'echo-2'),
    ('foxtrot-1', 'foxtrot-1'), ('foxtrot', 'foxtrot'),
    ('foxtrot', 'foxtrot-2'),
    ('heading with a - dash', 'heading-with-a---dash'),
    ('heading with an _ underscore', 'heading-with-an-_-underscore'),
    ('heading with a period.txt', 'heading-with-a-periodtxt'),
    ('exchange.bind_headers(exchange, routing [, bindCallback])',
     'exchangebind_headersexchange-routing--bindcallback'),
    ('apostrophe\u2019s should be trimmed', 'apostrophes-should-be-trimmed'),
    ('I \u2665 unicode', 'i--unicode'),
    ('en\u2013dash', 'endash'),
    ('\U0001F604 unicode emoji', '-unicode-emoji'),
    ('\u041f\u0440\u0438\u0432\u0435\u0442 non-latin \u4f60\u597d',
     '\u043f\u0440\u0438\u0432\u0435\u0442-non-latin-\u4f60\u597d'),
    ('a\u2028b', 'ab'),
]


def test_heading_ids_are_githubs(tmp_path):
  """Every heading of a page gets the id GitHub gives it (the fixtures
  above, as headings of one document, any level), and markup counts as
  its text only."""
  text = '\n\n'.join(f'{"#" * (1 + i % 6)} {heading}'
                       for i, (heading, _) in enumerate(SLUGGER_FIXTURES)
                       if heading != 'a\u2028b')
  text += ('\n\n## `code` *em* [link](http://x.org/y)\n\n'
           '### Results (%)\n\n## A &amp; B\n')
  page = webpage.render(text, str(tmp_path), 'x')
  ids = re.findall(r'<h[1-6] id="([^"]*)"', page)
  assert ids == [s for h, s in SLUGGER_FIXTURES if h != 'a\u2028b'] + [
      'code-em-link', 'results-', 'a--b']
  assert webpage.anchor('a\u2028b') == 'ab'
  assert '<a href="#code-em-link">code em link</a>' in page
  assert '<a href="#a--b">A &amp; B</a>' in page
  assert '<title>alpha</title>' in page


@pytest.mark.parametrize('name', ['a b.png', 'caf\u00e9.png', 'pct%20.png'])
def test_figure_links_are_read_as_github_reads_them(tmp_path, name):
  """A link is a URL: %20 is a space, and an escaped name is unescaped."""
  from urllib.parse import quote
  (tmp_path / 'sub').mkdir()
  (tmp_path / 'sub' / name).write_bytes(PNG)
  page = webpage.render(f'# r\n\n![f](sub/{quote(name)})\n', str(tmp_path),
                        'x')
  assert page.count('src="data:image/png;base64,') == 1


@pytest.mark.parametrize('link, says', [
    ('../outside.png', 'outside the report'),
    ('/abs/outside.png', 'outside the report'),
    ('https://example.org/f.png', 'not a file beside the report'),
    ('//example.org/f.png', 'not a file beside the report')])
def test_a_figure_the_page_cannot_hold_is_one_line(tmp_path, link, says):
  (tmp_path / 'outside.png').write_bytes(PNG)
  report = tmp_path / 'report'
  report.mkdir()
  (report / 'REPORT.md').write_text(f'# r\n\n![f]({link})\n')
  with pytest.raises(UsageError, match=says) as e:
    webpage.export(str(report / 'REPORT.md'))
  assert '\n' not in str(e.value)
  assert os.listdir(report) == ['REPORT.md']


def test_a_symlinked_study_folder_and_a_query_are_read_as_github_would(
    tmp_path):
  """A link that stays inside the report's folder is read even through a
  symlink (a study's folder linked into the lecture's); `?raw=true` and a
  fragment are not part of the file's name."""
  (tmp_path / 'elsewhere').mkdir()
  (tmp_path / 'elsewhere' / 'fig.png').write_bytes(PNG)
  report = tmp_path / 'report'
  report.mkdir()
  os.symlink(tmp_path / 'elsewhere', report / 'study')
  page = webpage.render('# r\n\n![a](study/fig.png)\n\n'
                        '![b](study/fig.png?raw=true)\n\n'
                        '![c](study/fig.png#top)\n', str(report), 'x')
  assert page.count('src="data:image/png;base64,') == 3


def test_the_contents_nest_under_the_nearest_open_heading(tmp_path):
  """Levels 1, 3, 2: both lower headings inside the first's item; an empty
  heading gets no id and no entry."""
  page = webpage.render('# A\n\n### B\n\n## C\n\n##\n\n# D\n', str(tmp_path),
                        'x')
  toc = page[page.index('<nav>'):page.index('</nav>')]
  assert toc.endswith(
      '<ul><li><a href="#a">A</a><ul><li><a href="#b">B</a></li></ul>'
      '<ul><li><a href="#c">C</a></li></ul></li>'
      '<li><a href="#d">D</a></li></ul>')
  assert 'id=""' not in page and 'href="#"' not in page
