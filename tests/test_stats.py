"""The one yardstick: its numbers against closed forms and scipy, its
calibration under the null and its power against theory (Monte Carlo over
synthetic seeds x examples), its verdicts in both directions, and its
refusals."""

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from deepvsshallow import stats
from deepvsshallow.errors import UsageError


# ------------------------------------------------- seeds only: Welch


@pytest.mark.parametrize('a,b', [
    ([0.30, 0.32, 0.31, 0.35], [0.40, 0.38]),
    ([0.1, 0.2, 0.15], [0.12, 0.25, 0.2, 0.3, 0.22]),
])
def test_per_seed_scores_get_welchs_interval_as_scipy_computes_it(a, b):
  c = stats.compare(a, b, higher_is_better=False)
  ci = scipy_stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
  assert c.difference == pytest.approx(np.mean(a) - np.mean(b))
  assert (c.low, c.high) == pytest.approx((ci.low, ci.high), rel=1e-9)
  assert c.seeds == (len(a), len(b)) and c.examples == 0
  assert 'seeds only' in c.units


def test_two_seeds_a_side_get_a_wide_interval():
  """2 seeds a side: about 2 degrees of freedom, a half-width of
  t(0.975, 2) = 4.303 standard errors, not 2 (closed form)."""
  c = stats.compare([0.0, 0.1], [0.2, 0.3], higher_is_better=False)
  se = math.sqrt(0.005 / 2 + 0.005 / 2)
  assert c.high - c.difference == pytest.approx(4.302653 * se, rel=1e-5)
  assert c.verdict == 'inconclusive'


@pytest.mark.parametrize('a,b,higher,outcome', [
    ([0.1, 0.11, 0.12], [0.3, 0.31, 0.29], False, 'supported'),
    ([0.1, 0.11, 0.12], [0.3, 0.31, 0.29], True, 'contradicted'),
    ([0.3, 0.31, 0.29], [0.1, 0.11, 0.12], False, 'contradicted'),
    ([0.3, 0.31, 0.29], [0.1, 0.11, 0.12], True, 'supported'),
    ([0.1, 0.3, 0.2], [0.2, 0.1, 0.3], False, 'inconclusive'),
    ([0.2, 0.2], [0.2, 0.2], False, 'inconclusive'),   # No spread, no gap.
])
def test_each_verdict_in_each_direction(a, b, higher, outcome):
  assert stats.compare(a, b, higher_is_better=higher).verdict == outcome


# ------------------------------------------------- seeds x examples


def test_paired_interval_against_the_anova_closed_form():
  """A 3x4 table worked by hand: seed means, per-example differences and
  residual mean squares (Searle et al. 1992, the two-way layout)."""
  a = np.array([[0, 1, 1, 0, 1, 0], [1, 1, 0, 0, 1, 0],
                [0, 1, 1, 1, 1, 0]], float)
  b = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 0, 0]], float)
  ma, mb = a.mean(1), b.mean(1)
  d = a.mean(0) - b.mean(0)
  ra = a - ma[:, None] - a.mean(0) + a.mean()
  rb = b - mb[:, None] - b.mean(0) + b.mean()
  msa, msb = (ra ** 2).sum() / (2 * 5), (rb ** 2).sum() / (1 * 5)
  parts = [(ma.var(ddof=1) / 3, 2), (mb.var(ddof=1) / 2, 1),
           (d.var(ddof=1) / 6 - msa / 18 - msb / 12, 5)]
  assert parts[2][0] > 0
  var = sum(v for v, _ in parts)
  df = var ** 2 / sum(v ** 2 / k for v, k in parts)
  half = math.sqrt(var) * scipy_stats.t.ppf(0.975, df)
  c = stats.compare(a, b, higher_is_better=False)
  assert c.difference == pytest.approx(a.mean() - b.mean())
  assert (c.low, c.high) == pytest.approx((c.difference - half,
                                           c.difference + half))
  assert (c.seeds, c.examples) == ((3, 2), 6)


def _gaussian_draws(rng, draws, sa, sb, n, *, seed_sd, example_sd,
                    own_sd, noise_sd, effect=0.0):
  """The crossed model: score = effect (a only) + seed effect + shared
  example effect + each model's own example effect + seed x example noise.
  Returns a (draws, sa, n), b (draws, sb, n) and Var(mean a - mean b)."""
  shared = rng.normal(0, example_sd, (draws, 1, n))
  def side(s):
    return (shared + rng.normal(0, own_sd, (draws, 1, n))
            + rng.normal(0, seed_sd, (draws, s, 1))
            + rng.normal(0, noise_sd, (draws, s, n)))
  var = (seed_sd ** 2 * (1 / sa + 1 / sb) + 2 * own_sd ** 2 / n
         + noise_sd ** 2 * (1 / (sa * n) + 1 / (sb * n)))
  return effect + side(sa), side(sb), var


@pytest.mark.parametrize('sa,sb', [(4, 3), (2, 3)])
def test_variance_estimate_is_unbiased_and_covers_95_percent(sa, sb):
  """Monte Carlo against the closed form of Var(D) in the crossed model,
  with a seed x example interaction far larger than the seed effect (the
  part counted twice without the ANOVA correction): the estimated variance
  averages to the closed form, and the interval covers the truth (0) 95% of
  the time (2000 draws: +-1.5 points is 3 Monte Carlo errors)."""
  rng = np.random.default_rng(0)
  a, b, var = _gaussian_draws(rng, 2000, sa, sb, 100, seed_sd=0.02,
                              example_sd=0.5, own_sd=0.1, noise_sd=0.6)
  cs = [stats.compare(x, y, higher_is_better=False) for x, y in zip(a, b)]
  # The example component is clamped at 0, so the estimate leans a little
  # high (here 3-5%); without the ANOVA correction it would be 1.8x.
  ratio = np.mean([c.standard_error ** 2 for c in cs]) / var
  assert 0.98 < ratio < 1.08
  assert np.var([c.difference for c in cs]) == pytest.approx(var, rel=0.1)
  assert abs(np.mean([c.low <= 0 <= c.high for c in cs]) - 0.95) < 0.015


def test_a_fixed_b_interval_covers_the_difference_from_that_model():
  """b is one fixed model (a teacher): the truth is a's mean over seeds and
  examples minus b's over examples, i.e. minus b's own seed shift beta.
  Var(D - truth) = s_seed^2/S + (2 s_own^2 + s_noise^2)/N
  + s_noise^2/(S N); the interval covers the truth 95% of the time."""
  rng = np.random.default_rng(4)
  draws, s, n = 2000, 3, 100
  shared = rng.normal(0, 0.5, (draws, 1, n))
  side = lambda k: (shared + rng.normal(0, 0.1, (draws, 1, n))
                    + rng.normal(0, 0.6, (draws, k, n)))
  seeds_a = rng.normal(0, 0.02, (draws, s, 1))
  beta = rng.normal(0, 0.02, (draws, 1, 1))
  a, b = side(s) + seeds_a, side(1) + beta
  cs = [stats.compare(x, y, higher_is_better=False, fixed_b=True)
        for x, y in zip(a, b)]
  var = 0.02 ** 2 / s + (2 * 0.1 ** 2 + 0.6 ** 2) / n + 0.6 ** 2 / (s * n)
  assert np.mean([c.standard_error ** 2 for c in cs]) == pytest.approx(
      var, rel=0.05)
  covered = np.mean([c.low <= -bt <= c.high
                     for c, bt in zip(cs, beta[:, 0, 0])])
  assert abs(covered - 0.95) < 0.015


def _binary_draws(rng, draws, s, n, effect=0.0):
  """0/1 errors: each example's difficulty (shared), each model's own take
  on each example, each seed's shift; a's log-odds lowered by `effect`."""
  z = rng.normal(-1.0, 1.5, (draws, 1, n))
  def side(shift):
    u = rng.normal(0, 2.0, (draws, 1, n))
    seed = rng.normal(0, 0.1, (draws, s, 1))
    p = 1 / (1 + np.exp(-(z + u + seed - shift)))
    return (rng.random((draws, s, n)) < p).astype(float)
  return side(effect), side(0.0)


def test_calibrated_under_the_null_where_seeds_alone_are_not():
  """Both models drawn alike, 10 seeds each on 300 shared examples: each
  model's own take on the examples makes one of them look better on this
  test set by chance. The yardstick says `supported` at most about 2.5% of
  the time (one side of a 95% interval); the seeds-only interval, blind
  to the examples, says it far more often."""
  rng = np.random.default_rng(1)
  draws = 2000
  a, b = _binary_draws(rng, draws, 10, 300)
  paired = [stats.compare(x, y, higher_is_better=False).verdict
            for x, y in zip(a, b)]
  seeds_only = [stats.compare(x.mean(1), y.mean(1),
                              higher_is_better=False).verdict
                for x, y in zip(a, b)]
  # Neither too eager nor too shy (an interval too wide would pass "at
  # most"): within 3 Monte Carlo errors of 2.5%, in each direction.
  for verdict in ('supported', 'contradicted'):
    rate = paired.count(verdict) / draws
    assert abs(rate - 0.025) <= 3 * math.sqrt(0.025 * 0.975 / draws)
  assert seeds_only.count('supported') / draws > 0.1


def test_power_matches_theory_for_an_effect_inside_the_seeds_spread():
  """A known effect, smaller than the spread of either side's seeds (so
  "beyond the spread" rules miss it), is found at the rate the normal
  theory predicts: P(supported) = Phi(effect / sd(D) - t(0.975, df))."""
  rng = np.random.default_rng(2)
  s, n, effect = 6, 400, -0.03
  a, b, var = _gaussian_draws(rng, 500, s, s, n, effect=effect, seed_sd=0.03,
                              example_sd=0.5, own_sd=0.1, noise_sd=0.3)
  spread = np.ptp(a.mean(2), 1) + np.ptp(b.mean(2), 1)
  assert np.median(spread) > 2 * abs(effect)
  cs = [stats.compare(x, y, higher_is_better=False) for x, y in zip(a, b)]
  parts = [(0.03 ** 2 / s + 0.3 ** 2 / (s * n), s - 1)] * 2 + [
      (2 * 0.1 ** 2 / n, n - 1)]
  dof = var ** 2 / sum(v ** 2 / k for v, k in parts)
  predicted = scipy_stats.norm.cdf(abs(effect) / math.sqrt(var)
                                   - scipy_stats.t.ppf(0.975, dof))
  observed = np.mean([c.verdict == 'supported' for c in cs])
  assert 0.2 < predicted < 0.8
  assert observed == pytest.approx(predicted, abs=0.08)


def test_the_bootstrap_agrees_when_seeds_are_many():
  """The hierarchical bootstrap (resampling seeds and examples) and the
  ANOVA interval agree when there are many seeds and little seed x example
  interaction, which the bootstrap counts twice."""
  rng = np.random.default_rng(3)
  a, b, _ = _gaussian_draws(rng, 1, 40, 40, 300, seed_sd=0.05,
                            example_sd=0.5, own_sd=0.2, noise_sd=0.05)
  t = stats.compare(a[0], b[0], higher_is_better=False)
  boot = stats.compare(a[0], b[0], higher_is_better=False,
                       method='bootstrap', seed=0)
  assert boot.high - boot.low == pytest.approx(t.high - t.low, rel=0.1)
  assert stats.compare(a[0], b[0], higher_is_better=False, method='bootstrap',
                       seed=0) == boot


def test_describe_says_the_difference_interval_and_verdict():
  c = stats.compare([0.10, 0.12], [0.50, 0.52], higher_is_better=False)
  text = c.describe('deep', 'shallow', scale=100, unit='points')
  assert text.startswith('deep − shallow = -40.0 [') and text.endswith(
      'points (seeds only): supported')


@pytest.mark.parametrize('a,b,kw', [
    (np.zeros((3, 10)), np.zeros((3, 9)), {}),          # Other examples.
    (np.zeros((3, 10)), np.full((3, 10), np.nan), {}),  # Non-finite.
    (np.zeros((1, 10)), np.zeros((3, 10)), {}),         # One seed.
    ([0.1, 0.2], [0.1, 0.3], {'confidence': 1.0}),
    ([0.1, 0.2], [0.1, 0.3], {'confidence': 0.0}),
    (np.zeros((3, 10)), [0.1, 0.2], {}),                # Mixed units.
    ([0.1, 0.2], [0.1, 0.3], {'method': 'magic'}),
])
def test_bad_input_is_one_usage_line(a, b, kw):
  with pytest.raises(UsageError) as e:
    stats.compare(a, b, higher_is_better=False, **kw)
  assert '\n' not in str(e.value)
