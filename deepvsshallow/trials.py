"""One architecture's candidates, trained, recorded and picked on validation.

Shared by every experiment: train the population (learning rates x seeds),
append one record per trial to trials.jsonl (its config, status done or
diverged, metrics), pick the learning rate on validation, and keep only the
picked members' parameters for the single read of test at the end.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any, Callable, Sequence, TextIO

import jax
import numpy as np

from deepvsshallow import selection, train


@dataclasses.dataclass
class Picked:
  """An architecture after training: its pick, and the picked parameters."""
  name: str
  info: dict[str, Any]                 # Written into every trial record.
  pick: selection.Pick | None          # None: every candidate diverged.
  params: Any                          # Picked members' best parameters.
  graphdef: Any
  result: train.PopulationResult


def grid(learning_rates: Sequence[float], num_seeds: int):
  """(member_seeds, member_lrs): every learning rate with every seed."""
  seeds = list(range(num_seeds))
  return ([s for _ in learning_rates for s in seeds],
          [float(lr) for lr in learning_rates for _ in seeds])


def _finite_or_none(x):
  return float(x) if np.isfinite(x) else None


def train_and_pick(name: str, model_fn: Callable, dataset, member_seeds,
                   member_lrs, settings: train.TrainSettings, *,
                   info: dict, trial_config: dict, trials_file: TextIO,
                   desc: str) -> Picked:
  t0 = time.time()
  result = train.train_population(model_fn, dataset, member_seeds, member_lrs,
                                  settings, desc=desc)
  for m, (seed, lr) in enumerate(zip(member_seeds, member_lrs)):
    trials_file.write(json.dumps({
        'trial': f'{name}/lr={lr:g}/seed={seed}', 'name': name, **info,
        'learning_rate': lr, 'seed': seed,
        'status': 'diverged' if result.diverged[m] else 'done',
        'config': trial_config,
        'metrics': {
            'best_val_error': _finite_or_none(result.best_val_error[m]),
            'best_epoch': int(result.best_epoch[m]),
            'final_train_loss': _finite_or_none(result.final_train_loss[m]),
            'epochs_run': result.epochs_run}}) + '\n')
  trials_file.flush()
  pick = selection.pick_by_validation(member_lrs, result.best_val_error,
                                      result.diverged)
  kept = None
  if pick is not None:
    idx = np.asarray(pick.members)
    kept = jax.tree.map(lambda a: a[idx], result.best_params)
  best = 'all diverged' if pick is None else (
      f'val err {100 * pick.val_errors.mean():.2f}% at lr={pick.candidate:g}')
  print(f'  {desc}: {best} ({result.epochs_run} epochs, '
        f'{result.diverged.sum()} diverged, {time.time() - t0:.1f}s)',
        flush=True)
  return Picked(name, info, pick, kept, result.graphdef, result)


def test_summary(picked: Picked, test_split, *, chunk: int,
                 num_candidates: int) -> dict:
  """Validation and test statistics of the picked candidate (reads test)."""
  if picked.pick is None:
    return {'status': 'diverged', 'num_candidates': num_candidates}
  test_err, _ = train.evaluate_population(picked.graphdef, picked.params,
                                          test_split, chunk=chunk)
  val_mean, val_std = selection.mean_std(picked.pick.val_errors)
  test_mean, test_std = selection.mean_std(test_err)
  return {'status': 'done', 'learning_rate': picked.pick.candidate,
          'val_error_mean': val_mean, 'val_error_std': val_std,
          'test_error_mean': test_mean, 'test_error_std': test_std,
          'test_errors': [float(e) for e in test_err],
          'val_minus_test': val_mean - test_mean,
          'num_candidates': picked.pick.num_candidates,
          'num_diverged': picked.pick.num_diverged}
