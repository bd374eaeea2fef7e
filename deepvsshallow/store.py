"""A run's state on disk, so that a killed run resumes and array tasks share
one workdir.

  <workdir>/config.json            the study and its whole config, written once;
                                   a later run with another config is refused
                                   (one line naming the differing fields)
                                   unless it says --allow_config_change.
  <workdir>/populations/<key>.npz  one finished population: every member's
                                   best-validation parameters and metrics, and
                                   its trial records. Written to a temporary
                                   name and renamed, so it is whole or absent.
  <workdir>/trials.jsonl           every finished population's records,
                                   rebuilt (atomically) from the files above.

A population's key is its place in the run's order; its fingerprint (a hash
of its name, model, data shapes, settings and members) must match for a
saved result to be used. A population cut off mid-training has no file and
trains again from the start.

Execution settings that are not the experiment (which array task this
process is, whether a config change is allowed) are an `Execution`, passed
to the run explicitly; the launchers make it from flags (`--task_index`,
`--num_tasks`, defaulting to SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT,
and `--allow_config_change`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import zipfile

import numpy as np

from deepvsshallow import report
from deepvsshallow.errors import UsageError


@dataclasses.dataclass(frozen=True)
class Execution:
  task_index: int | None = None     # This process's array task, or None.
  num_tasks: int | None = None
  allow_config_change: bool = False

  def __post_init__(self):
    if (self.task_index is None) != (self.num_tasks is None):
      raise UsageError('--task_index and --num_tasks go together; pass both '
                       'or neither.')
    if self.num_tasks is not None:
      if self.num_tasks < 1 or not 0 <= self.task_index < self.num_tasks:
        raise UsageError(f'--task_index={self.task_index} is outside '
                         f'[0, --num_tasks={self.num_tasks}); pass an index '
                         'from 0 to num_tasks - 1.')

  @property
  def is_task(self) -> bool:
    return self.num_tasks is not None

  def mine(self, seq: int) -> bool:
    """Is the population at place `seq` this task's to train?"""
    return not self.is_task or seq % self.num_tasks == self.task_index


class TaskDone(Exception):
  """An array task trained its share and cannot go on without the others'."""


def fingerprint(*parts) -> str:
  return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def _flatten(d, prefix=''):
  out = {}
  for k, v in d.items():
    if isinstance(v, dict):
      out.update(_flatten(v, f'{prefix}{k}.'))
    else:
      out[f'{prefix}{k}'] = v
  return out


class Store:
  """The records of one workdir. `writer=False` (processes other than 0 of
  a multi-process run) reads and checks, and writes nothing."""

  def __init__(self, workdir: str, writer: bool = True):
    self.workdir, self.writer = workdir, writer
    self.dir = os.path.join(workdir, 'populations')

  # -------------------------------------------------------------- config

  def claim(self, study: str, config: dict, allow_change: bool) -> bool:
    """Records the run's config, or checks it against the recorded one.
    Returns whether this workdir held an earlier run."""
    path = os.path.join(self.workdir, 'config.json')
    mine = json.loads(json.dumps({'study': study, 'config': config}))
    if not os.path.exists(path):
      if self.writer:
        report.write_json(path, mine)
      return False
    try:
      with open(path) as f:
        theirs = json.load(f)
    except (OSError, ValueError):
      raise UsageError(f'{path} is unreadable; delete it to start this '
                       'workdir afresh.') from None
    if theirs.get('study') != study:
      raise UsageError(f'workdir {self.workdir} holds a '
                       f'{theirs.get("study")!r} run, not {study!r}; pass '
                       'another --workdir.')
    a, b = _flatten(theirs['config']), _flatten(mine['config'])
    changed = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    if changed and not allow_change:
      raise UsageError(
          f'workdir {self.workdir} holds a run with another config '
          f'({", ".join(changed[:8])}{", ..." if len(changed) > 8 else ""} '
          'differ); pass --allow_config_change to go on with this one, or '
          'another --workdir.')
    if changed and self.writer:
      report.write_json(path, mine)
    return True

  # --------------------------------------------------------- populations

  def _path(self, key: str) -> str:
    return os.path.join(self.dir, f'{key}.npz')

  def _read(self, path: str) -> dict:
    try:
      with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
      raise UsageError(f'{path} is corrupt; delete it and run again to '
                       'retrain that population.') from None

  def load(self, key: str, fp: str) -> dict | None:
    """The saved population `key` if its fingerprint is `fp`, else None."""
    path = self._path(key)
    if not os.path.exists(path):
      return None
    saved = self._read(path)
    if str(saved.pop('__fingerprint__', '')) != fp:
      return None
    return saved

  def save(self, key: str, fp: str, arrays: dict) -> None:
    if not self.writer:
      return
    os.makedirs(self.dir, exist_ok=True)
    buf = io.BytesIO()
    np.savez(buf, __fingerprint__=np.asarray(fp), **arrays)
    report.atomic_write(self._path(key), buf.getvalue())

  def write_trials(self, keys) -> None:
    """trials.jsonl from the saved populations `keys` (this run's: a file
    left from before a config change is not among them), in order."""
    if not self.writer:
      return
    lines = []
    for key in sorted(set(keys)):
      path = self._path(key)
      if os.path.exists(path):
        lines.extend(str(r) for r in self._read(path).get('__records__', []))
    report.atomic_write(os.path.join(self.workdir, 'trials.jsonl'),
                        ''.join(l + '\n' for l in lines))


# ---------------------------------------------------------------- the codec
# One population's result as the flat arrays of populations/<key>.npz, and
# back: the layout is written and read here alone.

def encode_population(result, records) -> dict[str, np.ndarray]:
  """A `train.PopulationResult` and its trial records as flat arrays
  (parameters as their leaves, in tree order)."""
  import jax
  arrays = {'best_val': result.best_val, 'best_epoch': result.best_epoch,
            'final_train_loss': result.final_train_loss,
            'diverged': result.diverged,
            'epochs_run': np.asarray(result.epochs_run),
            'history/train_loss': result.history['train_loss'],
            'history/val': result.history['val'],
            '__records__': np.asarray([json.dumps(r) for r in records])}
  for prefix, tree in (('params/', result.best_params),
                       ('rest/', result.best_rest)):
    for i, leaf in enumerate(jax.tree.leaves(tree)):
      arrays[f'{prefix}{i}'] = np.asarray(leaf)
  return arrays


def decode_population(saved: dict, step_def, abstract_model):
  """`encode_population`'s arrays back as a `train.PopulationResult`;
  `abstract_model` (from nnx.eval_shape) gives the parameters' trees."""
  import jax
  from flax import nnx
  from deepvsshallow import train
  _, params, rest = nnx.split(abstract_model, nnx.Param, ...)

  def tree(prefix, like):
    structure = jax.tree.structure(like)
    return jax.tree.unflatten(structure, [
        saved[f'{prefix}{i}'] for i in range(structure.num_leaves)])
  return train.PopulationResult(
      step_def=step_def, best_params=tree('params/', params),
      best_rest=tree('rest/', rest), best_val=saved['best_val'],
      best_epoch=saved['best_epoch'],
      final_train_loss=saved['final_train_loss'], diverged=saved['diverged'],
      epochs_run=int(saved['epochs_run']),
      history={'train_loss': saved['history/train_loss'],
               'val': saved['history/val']})
