"""The one yardstick every verdict uses: is A better than B?

  c = stats.compare(a_SN, b_SN, higher_is_better=False)
  c.difference        # mean(a) - mean(b), in the metric's units
  c.low, c.high       # its confidence interval
  c.verdict           # for the claim "a is better than b":
                      #   supported     the interval excludes 0 in the
                      #                 claim's direction;
                      #   contradicted  it excludes 0 the other way;
                      #   inconclusive  otherwise.

`a_SN` and `b_SN` hold each seed's score on each test example (0/1 errors
or per-example losses), the same examples in the same order on both sides:
seeds are drawn independently for each model, the examples are shared. The
difference is uncertain for two reasons, and the interval covers both:

  * the seeds (each model's training noise), independent per side;
  * the test examples, a finite sample of the task shared by both models:
    the paired design, where an example hard for both cancels.

This is a crossed random-effects design (seeds x examples). Its variance is
estimated from the two-way ANOVA mean squares (Searle, Casella & McCulloch
1992, "Variance Components", ch. 4; Bouthillier et al. 2021, "Accounting
for variance in machine learning benchmarks", for the two sources in ML):

  Var(D) = s2(seed means of a)/S_a + s2(seed means of b)/S_b
           + s2(per-example difference of seed-averaged scores)/N
           - MS_res(a)/(S_a N) - MS_res(b)/(S_b N),

the last two terms removing the seed x example interaction that the first
three count twice. The interval is D ± t(df) sqrt(Var) with Satterthwaite's
(1946) degrees of freedom, so 2 or 3 seeds a side get the wide interval they
deserve. `method='bootstrap'` instead resamples seeds (per side) and
examples (shared) at once (the hierarchical bootstrap, Davison & Hinkley
1997, sec. 3.8; it counts the interaction twice and, with few seeds, its
percentile interval is too narrow: a cross-check for many seeds).

Where there are no per-example scores (an MSE over a grid, a probe's
accuracy, a count), pass one value per seed, shape (S,): the interval then
covers the seeds alone (Welch 1947), and `Comparison.units` says so.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import special

from deepvsshallow.errors import UsageError

VERDICTS = ('supported', 'contradicted', 'inconclusive')
METHODS = ('anova', 'bootstrap')


@dataclasses.dataclass(frozen=True)
class Comparison:
  difference: float      # mean(a) - mean(b), in the metric's units.
  low: float             # The interval of the difference.
  high: float
  verdict: str           # For the claim "a is better than b".
  seeds: tuple[int, int]
  examples: int = 0      # Shared test examples; 0: seeds were the only unit.
  confidence: float = 0.95
  standard_error: float | None = None    # Of the difference.

  @property
  def units(self) -> str:
    return (f'{self.seeds[0]}+{self.seeds[1]} seeds x {self.examples} '
            'examples' if self.examples else
            f'{self.seeds[0]}+{self.seeds[1]} seeds only')

  def describe(self, a: str = 'a', b: str = 'b', *, scale: float = 1.0,
               unit: str = '', fmt: str | None = None) -> str:
    """'a − b = −1.3 [−2.9, +0.2] points: inconclusive'. `fmt` formats each
    number (default '+.2f', '+.1f' when scaled; '+.3g' keeps small
    differences such as an MSE's). Seeds-only intervals say so."""
    fmt = fmt or ('+.2f' if scale == 1 else '+.1f')
    f = lambda x: format(scale * x, fmt)
    unit = f' {unit}' if unit else ''
    if not np.isfinite(self.low):
      why = ('one seed a side' if min(self.seeds) < 2 else
             'every score alike')
      return (f'{a} − {b} = {f(self.difference)}{unit} ({why}: no '
              f'interval): {self.verdict}')
    notes = [] if self.examples else ['seeds only']
    if abs(self.confidence - 0.95) > 1e-9:
      notes.append(f'{100 * self.confidence:.3g}% interval')
    notes = f' ({", ".join(notes)})' if notes else ''
    return (f'{a} − {b} = {f(self.difference)} [{f(self.low)}, '
            f'{f(self.high)}]{unit}{notes}: {self.verdict}')


def _as_scores(x, side: str) -> np.ndarray:
  x = np.asarray(x, np.float64)
  if x.ndim == 1:
    x = x[:, None]
  if x.ndim != 2 or x.size == 0:
    raise UsageError(f'stats.compare: {side} must be (seeds,) or (seeds, '
                     f'examples) scores, got shape {x.shape}.')
  if not np.isfinite(x).all():
    raise UsageError(f'stats.compare: {side} holds a non-finite score; '
                     'leave diverged runs out of the comparison.')
  return x


def compare(a_SN, b_SN, *, higher_is_better: bool, confidence: float = 0.95,
            seed: int = 0, fixed_b: bool = False, method: str = 'anova',
            resamples: int = 4000) -> Comparison:
  """The difference mean(a) - mean(b), its interval and the verdict on "a
  is better than b" (see the module docstring).

  `fixed_b=True`: b is one fixed model (one row, e.g. the teacher a mimic
  learned from), not a draw of seeds: its seed noise is not counted.
  `seed` seeds `method='bootstrap'`'s resampling.
  """
  a, b = _as_scores(a_SN, 'a'), _as_scores(b_SN, 'b')
  np_a, np_b = np.ndim(a_SN), np.ndim(b_SN)
  if np_a != np_b:
    raise UsageError(f'stats.compare: a and b must both be per-seed or both '
                     f'per-example, got shapes {a.shape} and {b.shape}.')
  if a.shape[1] != b.shape[1]:
    raise UsageError(f'stats.compare: a has {a.shape[1]} examples and b '
                     f'{b.shape[1]}; score both on the same test examples.')
  if a.shape[0] < 2 or (b.shape[0] < 2 and not fixed_b):
    raise UsageError(f'stats.compare: {a.shape[0]} and {b.shape[0]} seeds; '
                     'each side needs at least 2 (or fixed_b=True for one '
                     'fixed model b).')
  if fixed_b and b.shape[0] != 1:
    raise UsageError('stats.compare: fixed_b=True takes one row for b, got '
                     f'{b.shape[0]}.')
  if not 0 < confidence < 1:
    raise UsageError(f'stats.compare: confidence={confidence} must be in '
                     '(0, 1).')
  if method not in METHODS:
    raise UsageError(f'stats.compare: method={method!r}; one of '
                     f'{", ".join(METHODS)}.')
  difference = float(a.mean() - b.mean())
  if method == 'bootstrap':
    low, high, se = _bootstrap(a, b, confidence, seed, resamples, fixed_b)
  else:
    low, high, se = _anova(a, b, confidence, fixed_b, difference)
  lower_is_better = not higher_is_better
  better = high < 0 if lower_is_better else low > 0
  worse = low > 0 if lower_is_better else high < 0
  verdict = 'supported' if better else 'contradicted' if worse else (
      'inconclusive')
  return Comparison(difference, float(low), float(high), verdict,
                    (a.shape[0], b.shape[0]),
                    a.shape[1] if np_a == 2 else 0, confidence, se)


def deciding(comparisons) -> int | None:
  """Which comparison decides a claim made at every step (every size, every
  problem): the first that contradicts it, else the first inconclusive one,
  else the weakest support (the interval's end nearest 0). Its verdict is
  the claim's: contradicted if any comparison contradicts it, supported
  only if every one supports it, else inconclusive. None: there is none."""
  cs = list(comparisons)
  for verdict in ('contradicted', 'inconclusive'):
    if found := [i for i, c in enumerate(cs) if c.verdict == verdict]:
      return found[0]
  return min(range(len(cs)), default=None,
             key=lambda i: min(abs(cs[i].low), abs(cs[i].high)))


def compare_or_no_interval(a, b, **options) -> Comparison:
  """`compare`, except that one seed on a side (a smoke run) gives an
  inconclusive Comparison with no interval, which `describe` says, instead
  of a UsageError. With `fixed_b=True`, b's one row is not a seed."""
  seeds = lambda x: len(np.atleast_1d(np.asarray(x, float)))
  if seeds(a) < 2 or (seeds(b) < 2 and not options.get('fixed_b')):
    a_, b_ = np.asarray(a, float), np.asarray(b, float)
    return Comparison(float(a_.mean() - b_.mean()), -np.inf, np.inf,
                      'inconclusive', (len(a_), len(b_)),
                      a_.shape[1] if a_.ndim == 2 else 0)
  return compare(a, b, **options)


def _residual_ms(x: np.ndarray) -> float:
  """The two-way (seeds x examples) residual mean square: the seed x
  example interaction."""
  s, n = x.shape
  if s < 2 or n < 2:
    return 0.0
  r = x - x.mean(1, keepdims=True) - x.mean(0, keepdims=True) + x.mean()
  return float((r * r).sum() / ((s - 1) * (n - 1)))


def _anova(a, b, confidence, fixed_b, difference):
  (sa, n), sb = a.shape, b.shape[0]
  # (variance of the difference it contributes, its degrees of freedom).
  parts = [(a.mean(1).var(ddof=1) / sa, sa - 1)]
  if not fixed_b:
    parts.append((b.mean(1).var(ddof=1) / sb, sb - 1))
  if n > 1:
    d = a.mean(0) - b.mean(0)
    twice = _residual_ms(a) / (sa * n) + (
        0.0 if fixed_b else _residual_ms(b) / (sb * n))
    parts.append((max(d.var(ddof=1) / n - twice, 0.0), n - 1))
  var = sum(v for v, _ in parts)
  if var == 0:   # Every score alike: nothing measures the noise.
    return -np.inf, np.inf, 0.0
  df = var ** 2 / sum(v ** 2 / k for v, k in parts if v > 0)
  se = float(np.sqrt(var))
  half = se * float(special.stdtrit(df, (1 + confidence) / 2))
  return difference - half, difference + half, se


def _bootstrap(a, b, confidence, seed, resamples, fixed_b):
  """Percentile interval of mean(a*) - mean(b*), seeds resampled per side
  and the examples (shared by both sides) resampled together."""
  rng = np.random.default_rng(seed)
  (sa, n), sb = a.shape, b.shape[0]
  w = rng.multinomial(n, np.full(n, 1 / n), resamples) / n       # (R, N)
  ca = rng.multinomial(sa, np.full(sa, 1 / sa), resamples) / sa   # (R, S_a)
  cb = (np.ones((resamples, 1)) if fixed_b else
        rng.multinomial(sb, np.full(sb, 1 / sb), resamples) / sb)
  draws = (np.einsum('rs,sn,rn->r', ca, a, w)
           - np.einsum('rs,sn,rn->r', cb, b, w))
  alpha = (1 - confidence) / 2
  low, high = np.quantile(draws, [alpha, 1 - alpha])
  return float(low), float(high), float(draws.std(ddof=1))
