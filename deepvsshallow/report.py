"""Results on disk: atomic writes, markdown tables, plots.

Every file is written to a temporary name and renamed into place, so a
reader never sees half a file and a crash leaves the previous version.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Iterable, Sequence


def atomic_write(path: str, data: str | bytes) -> None:
  directory = os.path.dirname(os.path.abspath(path))
  fd, tmp = tempfile.mkstemp(dir=directory, prefix='.tmp-')
  try:
    with os.fdopen(fd, 'wb') as f:
      f.write(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)
  except BaseException:
    os.unlink(tmp)
    raise


def write_json(path: str, obj) -> None:
  atomic_write(path, json.dumps(obj, indent=2, sort_keys=False) + '\n')


def markdown_table(header: Sequence[str], rows: Iterable[Sequence]) -> str:
  lines = ['| ' + ' | '.join(header) + ' |',
           '|' + '|'.join('---' for _ in header) + '|']
  lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
  return '\n'.join(lines)


def pct(mean: float, std: float | None = None) -> str:
  """A percentage with its spread: '3.12 ± 0.41'."""
  if mean is None or mean != mean:
    return 'n/a'
  return f'{100 * mean:.2f}' + ('' if std is None else f' ± {100 * std:.2f}')


def save_figure(fig, path: str) -> None:
  import io
  buf = io.BytesIO()
  fig.savefig(buf, format='png', dpi=120, bbox_inches='tight')
  atomic_write(path, buf.getvalue())


def ensure_writable_dir(path: str) -> str:
  """Checks, without creating anything, that `path` can be created/written.

  Returns the absolute path. Raises UsageError otherwise.
  """
  from deepvsshallow.errors import UsageError
  path = os.path.abspath(path)
  probe = path
  while not os.path.exists(probe):
    probe = os.path.dirname(probe)
  if not os.path.isdir(probe) or (probe == path and not os.path.isdir(path)):
    raise UsageError(f'workdir {path} is not a directory (found a file at '
                     f'{probe}); pass --workdir=<a directory>.')
  if not os.access(probe, os.W_OK | os.X_OK):
    raise UsageError(f'workdir {path} is not writable ({probe} is not '
                     'writable by this user); pass a writable --workdir.')
  return path
