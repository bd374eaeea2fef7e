"""The one comparison every verdict uses: is A better than B?

`compare_seeds(a_S, b_S, higher_is_better=...)` takes one value per seed
(replicate) for each side, e.g. each seed's test error, and returns the
difference of the means, an interval, and a verdict on the directional
claim "a is better than b":

  supported     the interval excludes 0 in the claim's direction;
  contradicted  it excludes 0 the other way;
  inconclusive  otherwise, or with fewer than 2 seeds on a side.

The interval is Welch's: the difference ± t(df) standard errors, with each
side's sample standard deviation (ddof=1), independent seeds, and the
Welch-Satterthwaite degrees of freedom (Welch 1947), so that 2 or 3 seeds a
side get the wide interval they deserve. It covers seed noise only; the
verdicts read it through `Comparison` alone, so a better yardstick (paired
over the shared test examples) replaces it in one place.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
from scipy import stats as scipy_stats

VERDICTS = ('supported', 'contradicted', 'inconclusive')


@dataclasses.dataclass(frozen=True)
class Comparison:
  difference: float      # mean(a) - mean(b), in the metric's units.
  low: float             # The interval of the difference.
  high: float
  verdict: str           # For the claim "a is better than b".
  seeds: tuple[int, int]

  def describe(self, a: str = 'a', b: str = 'b', *, scale: float = 1.0,
               unit: str = '', fmt: str | None = None) -> str:
    """'a − b = −1.3 [−2.9, +0.2] points: inconclusive'. `fmt` formats each
    number (default '+.2f', '+.1f' when scaled; '+.3g' keeps small
    differences such as an MSE's)."""
    fmt = fmt or ('+.2f' if scale == 1 else '+.1f')
    f = lambda x: format(scale * x, fmt)
    unit = f' {unit}' if unit else ''
    if not np.isfinite(self.low):
      return (f'{a} − {b} = {f(self.difference)}{unit} (fewer than 2 seeds '
              f'a side: no interval): {self.verdict}')
    return (f'{a} − {b} = {f(self.difference)} [{f(self.low)}, '
            f'{f(self.high)}]{unit}: {self.verdict}')


def compare_seeds(a_S: Sequence[float], b_S: Sequence[float], *,
                  higher_is_better: bool,
                  confidence: float = 0.95) -> Comparison:
  a, b = np.asarray(a_S, np.float64), np.asarray(b_S, np.float64)
  if a.ndim != 1 or b.ndim != 1 or not len(a) or not len(b):
    raise ValueError(f'compare_seeds wants one value per seed on each side, '
                     f'got shapes {a.shape} and {b.shape}')
  difference = float(a.mean() - b.mean())
  if len(a) < 2 or len(b) < 2:
    return Comparison(difference, -np.inf, np.inf, 'inconclusive',
                      (len(a), len(b)))
  va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
  se = float(np.sqrt(va + vb))
  if se == 0:
    low = high = difference
  else:
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = se * float(scipy_stats.t.ppf((1 + confidence) / 2, df))
    low, high = difference - half, difference + half
  better = high < 0 if not higher_is_better else low > 0
  worse = low > 0 if not higher_is_better else high < 0
  verdict = 'supported' if better else 'contradicted' if worse else (
      'inconclusive')
  return Comparison(difference, low, high, verdict, (len(a), len(b)))
