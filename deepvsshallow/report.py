"""Results on disk: atomic writes, markdown tables, plots.

Every file is written to a temporary name and renamed into place, so a
reader never sees half a file and a crash leaves the previous version.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from typing import Iterable, Sequence

from deepvsshallow.errors import UsageError


def _umask() -> int:
  """The process's umask, read without changing it where Linux says it
  (/proc), else set and restored at once."""
  try:
    with open('/proc/self/status') as f:
      for line in f:
        if line.startswith('Umask:'):
          return int(line.split()[1], 8)
  except OSError:
    pass
  mask = os.umask(0o022)
  os.umask(mask)
  return mask


def atomic_write(path: str, data: str | bytes) -> None:
  """Writes `path` whole or not at all, with the mode a plain open() would
  give it (0666 less the umask: readable by a cluster's group or a web
  server where the umask allows). A full disk (or quota) is one UsageError
  line naming the path; no temporary file is left."""
  directory = os.path.dirname(os.path.abspath(path))
  try:
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.tmp-')
    try:
      os.fchmod(fd, 0o666 & ~_umask())   # mkstemp's own mode is 0600.
      with os.fdopen(fd, 'wb') as f:
        f.write(data.encode() if isinstance(data, str) else data)
      os.replace(tmp, path)
    except BaseException:
      os.unlink(tmp)
      raise
  except OSError as e:
    raise_if_full(e, path)
    raise


def raise_if_full(error: OSError, path: str) -> None:
  """A full disk (or quota) as one UsageError line naming `path`."""
  if error.errno in (errno.ENOSPC, errno.EDQUOT):
    raise UsageError(f'no space left on the device to write {path}; free '
                     'some space (or pass another --workdir) and run the '
                     'same command again: finished populations are kept.'
                     ) from None


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


def net_name(hidden_widths) -> str:
  """An MLP's hidden widths as a name: (64, 64, 64) -> '64x64x64'."""
  return 'x'.join(map(str, hidden_widths))


def convergence_note(cfg, *, metric: str, reference: str,
                     patience_steps: int, cap_steps: int,
                     min_passes: int) -> str:
  """How a study that trains to convergence (`train.in_passes_over`)
  trains, in one sentence for its report."""
  return (f'Each net trains to convergence ({cfg["optimizer"]}, '
          f'{cfg["schedule"]} learning-rate schedule, batch '
          f'{cfg["batch_size"]}): until no member\'s validation {metric} has '
          f'improved for {cfg["patience"]} passes over {reference} '
          f'({patience_steps:,} steps; at least {min_passes} passes over its '
          f'own training set), or at the cap of {cap_steps:,} steps (marked '
          f'"(cap)": not converged by that rule); it keeps its '
          f'best-validation-{metric} epoch, and the learning rate is picked '
          f'on validation {metric}.')


def pyplot():
  """matplotlib.pyplot on the Agg backend (files only, no display)."""
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  return plt


def save_figure(fig, path: str) -> None:
  import io
  buf = io.BytesIO()
  fig.savefig(buf, format='png', dpi=120, bbox_inches='tight')
  atomic_write(path, buf.getvalue())


def run_footer(summary) -> str:
  """The closing line of every report: how long, where, with what."""
  plat, comp = summary['platform'], summary['compile']
  cached = (f', {comp["cached"]} of them from the compilation cache'
            if comp.get('cached') else '')
  training = (f'; {comp["training"]} population training programs'
              if 'training' in comp else '')
  # CPU and TPU are deterministic; a GPU run says which it was.
  deterministic = plat.get('deterministic_ops')   # None: an older run's.
  gpu = ('' if plat['backend'] != 'gpu' else ', deterministic GPU ops'
         if deterministic else ', GPU determinism not recorded'
         if deterministic is None else
         ', GPU ops not deterministic (--xla_gpu_deterministic_ops=false)')
  # What float32 matmuls computed in (TF32 on recent GPUs, bfloat16
  # passes on TPU); absent from older runs' results.
  computes = (f' (float32 matmuls in {plat["float32_matmuls"]})'
              if plat.get('float32_matmuls') else '')
  return (f'Runtime {summary["runtime_s"]:.0f}s ({comp["seconds"]:.0f}s of it '
          f'compiling, {comp["count"]} programs{cached}{training}) on '
          f'{plat["devices"]} {plat["backend"]} device(s) '
          f'({plat["device_kind"]}), jax {plat["jax"]}, matmul precision '
          f'{plat["matmul_precision"]}{computes}{gpu}.')
