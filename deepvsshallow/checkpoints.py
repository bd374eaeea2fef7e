"""Checkpoints inside a population's run, so a long trial survives a kill.

A finished population is saved whole by the store (`store.py`); one cut off
mid-training would start over. With `config.checkpoint_every = N`, the
engine also saves the population's whole loop state (every member's
parameters, optimizer state, best-so-far snapshot, histories and the epoch)
with orbax every N epochs, to

  <workdir>/checkpoints/<key>.<fingerprint>.d<devices>/<epoch>/

and a relaunch resumes from the last one. The run is a pure function of its
loop state (each epoch's batch order comes from the seed and the epoch
number), so a resumed population ends bitwise equal to an uninterrupted one
on the same machine and device count, and a kill loses at most N epochs.
(The runner names the directory after the device count too: a population
padded for another number of devices starts afresh.)

orbax writes each checkpoint to a temporary directory and renames it when
complete, so a kill during a save leaves the previous checkpoint as the
latest. orbax saves sharded arrays shard by shard from the processes that
hold them, which is meant for a population spread over several hosts; the
tests checkpoint single-process runs only. The checkpoints of a population
are deleted once its result is saved.
"""

from __future__ import annotations

import glob
import os
import shutil

import jax


class Checkpoint:
  """One population's loop-state checkpoints, every `every` epochs."""

  def __init__(self, directory: str, every: int):
    if every < 1:
      raise ValueError(f'every must be >= 1, got {every}.')
    self.directory, self.every = os.path.abspath(directory), every
    self._manager = None

  def _open(self):
    if self._manager is None:
      import orbax.checkpoint as ocp   # Imported only where it is used.
      self._manager = ocp.CheckpointManager(
          self.directory, options=ocp.CheckpointManagerOptions(
              max_to_keep=1, create=True,
              # Saved before the next chunk runs: its input is donated.
              enable_async_checkpointing=False))
    return self._manager

  def due(self, epoch: int) -> bool:
    return epoch % self.every == 0

  def next_stop(self, epoch: int) -> int:
    return (epoch // self.every + 1) * self.every

  def save(self, epoch: int, carry) -> None:
    import orbax.checkpoint as ocp
    self._open().save(epoch, args=ocp.args.StandardSave(
        jax.tree.leaves(carry)))

  def restore(self, carry):
    """The latest saved loop state, shaped and placed like `carry`; None
    when there is none."""
    if not os.path.isdir(self.directory):
      return None
    manager = self._open()
    epoch = manager.latest_step()
    if epoch is None:
      return None
    import orbax.checkpoint as ocp
    leaves, treedef = jax.tree.flatten(carry)
    # Host (numpy) leaves when the population is not sharded.
    target = [jax.ShapeDtypeStruct(a.shape, a.dtype,
                                   sharding=getattr(a, 'sharding', None))
              for a in leaves]
    saved = manager.restore(epoch, args=ocp.args.StandardRestore(target))
    return jax.tree.unflatten(treedef, list(saved))

  def close(self) -> None:
    if self._manager is not None:
      self._manager.close()
      self._manager = None


def remove(checkpoints_dir: str, key: str) -> None:
  """Every checkpoint of population `key` (its result is saved)."""
  for path in glob.glob(os.path.join(checkpoints_dir, f'{key}.*')):
    shutil.rmtree(path, ignore_errors=True)
  try:
    os.rmdir(checkpoints_dir)   # Gone with the last population's.
  except OSError:
    pass
