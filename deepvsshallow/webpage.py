"""A markdown report as one self-contained web page.

`export(path.md)` writes `path.html` beside it: the same content rendered by
markdown-it-py (CommonMark with tables; raw HTML in the markdown is shown
as text, not passed through), a table of contents from the headings, and
every figure embedded as a data URI, so the page needs no other file, no
network and no JavaScript. A figure the markdown links but that is missing
is one line naming it, and nothing is written.

  python -m deepvsshallow.webpage runs/lecture/REPORT.md    # -> REPORT.html
  python -m deepvsshallow.webpage runs/<study>/results.md   # one study's
"""

from __future__ import annotations

import base64
import html
import os
import re
import sys

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
  """GitHub's anchor for a heading's text: lower case, punctuation but '-'
  and '_' removed (letters and digits of any script kept), each space a
  '-'. A report's [links](#anchor) use it, and so do the page's ids."""
  slug = re.sub(r'[^\w\- ]', '', heading.lower()).strip()
  return slug.replace(' ', '-')


def _slug(text: str, used: set[str]) -> str:
  """A heading's id on the page: its `anchor`, numbered when repeated."""
  base = anchor(text) or 'section'
  slug, k = base, 2
  while slug in used:
    slug, k = f'{base}-{k}', k + 1
  used.add(slug)
  return slug


def _data_uri(path: str) -> str:
  mime = _MIME.get(os.path.splitext(path)[1].lower())
  if mime is None:
    raise UsageError(f'{path}: a figure of an unknown type; use one of '
                     f'{", ".join(sorted(_MIME))}.')
  with open(path, 'rb') as f:
    return f'data:{mime};base64,' + base64.b64encode(f.read()).decode()


def render(markdown_text: str, base_dir: str, title: str) -> str:
  """The page: `markdown_text` with its relative figure links read from
  `base_dir` and embedded."""
  from markdown_it import MarkdownIt
  md = MarkdownIt('commonmark', {'html': False}).enable('table')
  tokens = md.parse(markdown_text)
  toc, used = [], set()
  for i, token in enumerate(tokens):
    if token.type == 'heading_open' and token.tag in ('h1', 'h2', 'h3'):
      text = tokens[i + 1].content
      slug = _slug(text, used)
      token.attrSet('id', slug)
      toc.append((int(token.tag[1]), text, slug))
    for child in token.children or ():
      if child.type == 'image':
        src = str(child.attrGet('src') or '')
        if re.match(r'^[a-z][a-z0-9+.-]*:', src, re.I):
          continue   # Already a URL (data: or otherwise): left as it is.
        path = os.path.join(base_dir, src)
        if not os.path.isfile(path):
          raise UsageError(f'{path}: a figure the report links is missing; '
                           'run the study that writes it again.')
        child.attrSet('src', _data_uri(path))
  body = md.renderer.render(tokens, md.options, {})
  return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
          f'<meta name="viewport" content="width=device-width">'
          f'<title>{html.escape(title)}</title><style>{_CSS}</style></head>'
          f'<body><nav><strong>Contents</strong>{_toc(toc)}</nav>'
          f'<main>{body}</main></body></html>\n')


def _toc(entries) -> str:
  """Nested lists of the headings (levels 1-3)."""
  out, depth = [], 0
  for level, text, slug in entries:
    while depth < level:
      out.append('<ul>')
      depth += 1
    while depth > level:
      out.append('</ul>')
      depth -= 1
    out.append(f'<li><a href="#{slug}">{html.escape(text)}</a></li>')
  out.extend('</ul>' * depth)
  return ''.join(out)


def export(markdown_path: str, html_path: str | None = None) -> str:
  """Writes the page of `markdown_path` (default: beside it, .html);
  returns its path. Its title is the first heading."""
  try:
    with open(markdown_path, encoding='utf-8') as f:
      text = f.read()
  except OSError as e:
    raise UsageError(f'{markdown_path}: cannot read it ({e.strerror}); '
                     'pass a report written by a run.') from None
  title = next((l.lstrip('#').strip() for l in text.splitlines()
                if l.startswith('#')), os.path.basename(markdown_path))
  page = render(text, os.path.dirname(os.path.abspath(markdown_path)),
                title)
  html_path = html_path or os.path.splitext(markdown_path)[0] + '.html'
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
