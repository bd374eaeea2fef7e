"""Model selection on validation, and how optimistic it was.

A *candidate* is one hyperparameter setting (here a learning rate) of one
architecture; its replicates are the seeds. The candidate with the lowest
mean validation error is picked, and only the picked candidate's replicates
are ever evaluated on test. Picking the minimum of several noisy validation
errors biases that minimum downwards: the more candidates compared, the more
the validation set has been trained on. `val_minus_test` measures it.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class Pick:
  candidate: object            # The picked hyperparameter value.
  members: tuple[int, ...]     # Indices of its replicates in the input.
  val_errors: np.ndarray       # Best validation error of each replicate.
  num_candidates: int          # How many settings were compared.
  num_diverged: int            # Replicates that diverged, over all candidates.


def pick_by_validation(candidates: Sequence, val_errors: Sequence[float],
                       diverged: Sequence[bool]) -> Pick | None:
  """Picks the candidate with the lowest mean validation error.

  `candidates[i]` is member i's hyperparameter value; members sharing a value
  are replicates. A candidate with a diverged replicate is not eligible: a
  setting that blows up for some seeds is not a setting anyone should pick.
  Returns None when every candidate diverged. Ties go to the first candidate.
  """
  val_errors = np.asarray(val_errors, float)
  diverged = np.asarray(diverged, bool)
  order = list(dict.fromkeys(candidates))
  best, best_mean = None, math.inf
  for value in order:
    idx = [i for i, c in enumerate(candidates) if c == value]
    if diverged[idx].any() or not np.isfinite(val_errors[idx]).all():
      continue
    mean = val_errors[idx].mean()
    if mean < best_mean:
      best, best_mean = (value, tuple(idx)), mean
  if best is None:
    return None
  return Pick(candidate=best[0], members=best[1],
              val_errors=val_errors[list(best[1])],
              num_candidates=len(order), num_diverged=int(diverged.sum()))


def mean_std(values) -> tuple[float, float]:
  """Mean and sample standard deviation (ddof=1; 0 for one value)."""
  values = np.asarray(values, float)
  std = values.std(ddof=1) if len(values) > 1 else 0.0
  return float(values.mean()), float(std)
