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


def expected_max_normal(k: int) -> float:
  """E[max of k independent N(0, 1)] (0 for k = 1), by quadrature of
  k x phi(x) Phi(x)^(k-1). Picking the lowest of k noisy validation scores
  of equally good candidates is optimistic by sigma times this; it grows
  about as sqrt(2 ln k)."""
  from math import erf
  x = np.linspace(-12.0, 12.0, 24_001)
  phi = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
  cdf = 0.5 * (1 + np.vectorize(erf)(x / math.sqrt(2)))
  return float(np.trapezoid(x * k * phi * cdf ** (k - 1), x))


def bootstrap_best_of_k(val_N, test_N, ks: Sequence[int], *, resamples: int,
                        seed: int, holdout_N=None) -> list[dict]:
  """What picking the best of K candidates on validation costs.

  For each K: `resamples` times, K of the N candidates are drawn without
  replacement, the one with the lowest validation error is picked, and its
  validation, test (and holdout) errors are kept. Returns, per K, the mean
  and std over resamples of: the picked candidate's validation error, its
  test error, the gap test - validation (how optimistic the pick's
  validation error is), and, with a holdout split used once for the pick,
  holdout, test - holdout (the cure: about 0) and holdout - validation
  (how far the pick's validation error is off, without the test split).
  """
  val_N, test_N = np.asarray(val_N, float), np.asarray(test_N, float)
  n = len(val_N)
  rng = np.random.default_rng(seed)
  out = []
  for k in ks:
    if not 1 <= k <= n:
      raise ValueError(f'K={k} is outside 1..{n} (the pool).')
    # argsort of uniform keys: `resamples` draws of k distinct candidates.
    draws = np.argsort(rng.random((resamples, n)), axis=1)[:, :k]
    picked = draws[np.arange(resamples), np.argmin(val_N[draws], axis=1)]
    row = {'k': int(k)}
    series = {'val': val_N[picked], 'test': test_N[picked],
              'gap': test_N[picked] - val_N[picked]}
    if holdout_N is not None:
      holdout_N = np.asarray(holdout_N, float)
      series['holdout'] = holdout_N[picked]
      series['holdout_gap'] = test_N[picked] - holdout_N[picked]
      series['holdout_val_gap'] = holdout_N[picked] - val_N[picked]
    for name, values in series.items():
      row[f'{name}_mean'] = float(values.mean())
      row[f'{name}_std'] = float(values.std())
    out.append(row)
  return out
