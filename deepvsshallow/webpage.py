"""A markdown report as one self-contained web page.

`export(path.md)` writes `path.html` beside it: the same content rendered by
markdown-it-py (CommonMark with tables; raw HTML in the markdown is shown
as text, not passed through), a table of contents from the headings, and
every figure embedded as a data URI, so the page needs no other file, no
network and no JavaScript. Heading ids are GitHub's, so a report's links
to its own sections work on GitHub and on the page alike. A figure that is
missing, outside the report's folder or on the network is one line naming
it, and nothing is written.

  python -m deepvsshallow.webpage runs/lecture/REPORT.md    # -> REPORT.html
  python -m deepvsshallow.webpage runs/<study>/results.md   # one study's
"""

from __future__ import annotations

import base64
import html
import os
import re
import sys
import unicodedata
import urllib.parse

from deepvsshallow import report
from deepvsshallow.errors import UsageError

_MIME = {'.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg',
         '.gif': 'image/gif', '.svg': 'image/svg+xml'}

_CSS = """
body { font: 16px/1.5 system-ui, -apple-system, 'Segoe UI', sans-serif;
       color: #1b1b1b; margin: 0; display: flex; }
nav { width: 17rem; flex: none; height: 100vh; overflow-y: auto;
      position: sticky; top: 0; padding: 1rem; box-sizing: border-box;
      background: #f5f6f8; border-right: 1px solid #ddd; font-size: 14px; }
nav ul { list-style: none; padding-left: 0.9rem; margin: 0.2rem 0; }
nav > ul { padding-left: 0; }
nav a { color: #1f4e8c; text-decoration: none; }
main { max-width: 62rem; padding: 1rem 2.5rem 4rem; min-width: 0; }
h1, h2, h3 { line-height: 1.25; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2rem;
     margin-top: 2.2rem; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 14px;
        display: block; overflow-x: auto; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.55rem; }
th { background: #eef1f5; }
tr:nth-child(even) td { background: #fafbfc; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
code { background: #f1f1f1; padding: 0 0.2rem; border-radius: 3px; }
pre { background: #f5f5f5; padding: 0.7rem; overflow-x: auto; }
"""


def anchor(heading: str) -> str:
  """GitHub's anchor for a heading's text (github-slugger's rule): lower
  case; letters, marks, digits and connector punctuation ('_') of any
  script kept, and spaces and '-'; everything else removed; each space a
  '-'. A report's [links](#anchor) use it, and so do the page's ids."""
  kept = (c for c in heading.lower()
          if c in ' -' or unicodedata.category(c)[0] in 'LMN'
          or unicodedata.category(c) == 'Pc')
  return ''.join(kept).replace(' ', '-')


class _Slugger:
  """Heading ids as GitHub numbers them: a repeated anchor gets -1, -2, ...
  (counted per anchor, skipping ids already taken)."""

  def __init__(self):
    self.seen = {}

  def __call__(self, text: str) -> str:
    base = slug = anchor(text)
    while slug in self.seen:
      self.seen[base] += 1
      slug = f'{base}-{self.seen[base]}'
    self.seen[slug] = 0
    return slug


def _plain(inline) -> str:
  """A heading's text as the page shows it (its textContent): markup,
  link targets and images left out."""
  parts = []
  for child in inline.children or ():
    if child.type in ('text', 'code_inline'):
      parts.append(child.content)
    elif child.type in ('softbreak', 'hardbreak'):
      parts.append(' ')
  return ''.join(parts)


def _figure(src: str, base_dir: str) -> str:
  """The file a relative figure link names, inside `base_dir`."""
  if re.match(r'^[a-z][a-z0-9+.-]*:', src, re.I) or src.startswith('//'):
    raise UsageError(f'{src}: a figure that is not a file beside the report; '
                     'the page stands alone: save it under the report\'s '
                     'folder and link it by a relative path.')
  # As GitHub reads a link: a query or fragment is not part of the file's
  # name, and %XX escapes are. Links, not symlinks, must stay inside.
  root = os.path.abspath(base_dir)
  path = os.path.normpath(os.path.join(
      root, urllib.parse.unquote(urllib.parse.urlsplit(src).path)))
  try:
    inside = os.path.commonpath([root, path]) == root
  except ValueError:   # Another drive (Windows).
    inside = False
  if not inside:
    raise UsageError(f'{src}: a figure outside the report\'s folder {root}; '
                     'copy it under that folder and link it relatively.')
  if not os.path.isfile(path):
    raise UsageError(f'{path}: a figure the report links is missing; '
                     'run the study that writes it again.')
  return path


def _data_uri(path: str) -> str:
  mime = _MIME.get(os.path.splitext(path)[1].lower())
  if mime is None:
    raise UsageError(f'{path}: a figure of an unknown type; use one of '
                     f'{", ".join(sorted(_MIME))}.')
  with open(path, 'rb') as f:
    return f'data:{mime};base64,' + base64.b64encode(f.read()).decode()


def render(markdown_text: str, base_dir: str, name: str) -> str:
  """The page: `markdown_text` with its relative figure links read from
  `base_dir` and embedded; its title is the first heading (else `name`)."""
  from markdown_it import MarkdownIt
  md = MarkdownIt('commonmark', {'html': False}).enable('table')
  tokens = md.parse(markdown_text)
  toc, slugger = [], _Slugger()
  for i, token in enumerate(tokens):
    if token.type == 'heading_open':   # Every level gets GitHub's id.
      text = _plain(tokens[i + 1])
      if not anchor(text):
        continue   # Nothing to link to (an empty heading).
      slug = slugger(text)
      token.attrSet('id', slug)
      if token.tag in ('h1', 'h2', 'h3'):
        toc.append((int(token.tag[1]), text, slug))
    for child in token.children or ():
      if child.type == 'image':
        src = str(child.attrGet('src') or '')
        if not src.startswith('data:'):
          child.attrSet('src', _data_uri(_figure(src, base_dir)))
  body = md.renderer.render(tokens, md.options, {})
  title = toc[0][1] if toc else name
  return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
          f'<meta name="viewport" content="width=device-width">'
          f'<title>{html.escape(title)}</title><style>{_CSS}</style></head>'
          f'<body><nav><strong>Contents</strong>{_toc(toc)}</nav>'
          f'<main>{body}</main></body></html>\n')


def _toc(entries) -> str:
  """Nested lists of the headings (levels 1-3): a deeper heading's list
  inside its parent's item."""
  out, open_levels = [], []
  for level, text, slug in entries:
    while open_levels and level < open_levels[-1]:
      out.append('</li></ul>')
      open_levels.pop()
    if open_levels and level == open_levels[-1]:
      out.append('</li>')
    else:   # Deeper than the open item (or the first): a list inside it.
      out.append('<ul>')
      open_levels.append(level)
    out.append(f'<li><a href="#{slug}">{html.escape(text)}</a>')
  out.append('</li></ul>' * len(open_levels))
  return ''.join(out)


def page_path(markdown_path: str) -> str:
  """Where a report's page goes by default: beside it, as .html."""
  return os.path.splitext(markdown_path)[0] + '.html'


def export(markdown_path: str, html_path: str | None = None) -> str:
  """Writes the page of `markdown_path` (default: beside it, .html);
  returns its path."""
  try:
    with open(markdown_path, encoding='utf-8') as f:
      text = f.read()
  except OSError as e:
    raise UsageError(f'{markdown_path}: cannot read it ({e.strerror}); '
                     'pass a report written by a run.') from None
  page = render(text, os.path.dirname(os.path.abspath(markdown_path)),
                os.path.basename(markdown_path))
  html_path = html_path or page_path(markdown_path)
  report.atomic_write(html_path, page.encode())
  return html_path


def main(argv) -> int:
  if len(argv) not in (2, 3):
    print('error: usage: python -m deepvsshallow.webpage REPORT.md [OUT.html]',
          file=sys.stderr)
    return 2
  try:
    print(f'Wrote {export(*argv[1:])}')
  except UsageError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  return 0


if __name__ == '__main__':
  sys.exit(main(sys.argv))
