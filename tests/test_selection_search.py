"""Selection's optimism and the architecture searches against known answers."""

import collections
import dataclasses
import itertools
import math

import numpy as np
import pytest

from deepvsshallow import evolution, params, selection
from deepvsshallow.errors import UsageError


def test_expected_max_of_normals_closed_forms():
  assert selection.expected_max_normal(1) == pytest.approx(0.0, abs=1e-9)
  assert selection.expected_max_normal(2) == pytest.approx(
      1 / math.sqrt(math.pi), rel=1e-6)
  assert selection.expected_max_normal(3) == pytest.approx(
      3 / (2 * math.sqrt(math.pi)), rel=1e-6)
  # Monte Carlo for a larger K.
  z = np.random.default_rng(0).normal(size=(20_000, 64)).max(1)
  assert selection.expected_max_normal(64) == pytest.approx(z.mean(),
                                                            abs=0.01)


def test_bootstrap_best_of_k_on_equal_candidates_with_known_noise():
  """Every candidate's true error is 0.3; validation adds N(0, 0.02) noise,
  test and holdout (large splits) independent N(0, 0.002). Picking the
  lowest of K is optimistic by 0.02 E[max of K], and the holdout is not."""
  rng = np.random.default_rng(1)
  n, sigma = 4000, 0.02
  val = 0.3 + sigma * rng.normal(size=n)
  test = 0.3 + 0.002 * rng.normal(size=n)
  holdout = 0.3 + 0.002 * rng.normal(size=n)
  rows = selection.bootstrap_best_of_k(val, test, (1, 4, 64), resamples=2000,
                                      seed=0, holdout_N=holdout)
  for row in rows:
    expected = sigma * selection.expected_max_normal(row['k'])
    # Monte Carlo error over 2,000 resamples about 0.0005; the pool's own
    # tail (4,000 draws) about as much again.
    assert row['gap_mean'] == pytest.approx(expected, abs=0.002)
    # The picks of K=64 are a few dozen distinct candidates, each with
    # test - holdout noise of 0.003: their mean is within about 0.001.
    assert abs(row['holdout_gap_mean']) < 0.0015
    # Holdout - validation measures the same optimism without the test split.
    assert row['holdout_val_gap_mean'] == pytest.approx(expected, abs=0.002)
  assert rows[-1]['gap_mean'] > rows[1]['gap_mean'] > 0.01
  with pytest.raises(ValueError, match='outside'):
    selection.bootstrap_best_of_k(val[:10], test[:10], (11,), resamples=5,
                                 seed=0)


# The study's default space: depths 1-8, widths 16/32/64 per layer, two
# activations, five learning rates, at most 20,000 parameters (MNIST-1D).
SPACE = evolution.Space(input_dim=40, num_classes=10, budget=20_000,
                        learning_rates=(3e-3, 1e-2, 3e-2, 0.1, 0.3))


def _brute_force(space, depth):
  return sorted(ws for ws in itertools.product(space.widths, repeat=depth)
                if params.mlp_param_count(space.input_dim, list(ws),
                                          space.num_classes) <= space.budget)


def test_the_space_holds_exactly_the_candidates_within_budget():
  # The walk's pruning against every tuple of a wider space (5 widths).
  wide = evolution.Space(input_dim=40, num_classes=10, budget=20_000,
                         depths=(1, 2, 3, 4, 5),
                         widths=(16, 32, 64, 128, 256))
  for d in wide.depths:
    assert list(wide.width_tuples[d]) == _brute_force(wide, d)
    assert wide.count_width_tuples(d) == len(wide.width_tuples[d])
  # 256 alone fits (13,066); 128-128 does not (23,050).
  assert (256,) in wide.width_tuples[1]
  assert (128, 128) not in wide.width_tuples[2]
  assert params.mlp_param_count(40, [128, 128], 10) == 23_050
  # The default space: the walk and the count agree at every depth, and
  # without a budget the count is the closed form 3^d.
  counts = [SPACE.count_width_tuples(d) for d in SPACE.depths]
  assert counts == [len(SPACE.width_tuples[d]) for d in SPACE.depths]
  assert counts == [3, 9, 27, 81, 243, 725, 2146, 6257]
  free = dataclasses.replace(SPACE, budget=10**9)
  assert [free.count_width_tuples(d) for d in free.depths] == [
      3 ** d for d in free.depths]
  assert SPACE.size == sum(counts) * 2 * 5 == 94_910 >= 10**4
  assert all(SPACE.param_count(evolution.Arch(ws, 'relu', 1e-2)) <= 20_000
             for t in SPACE.width_tuples.values() for ws in t)
  assert SPACE.padded_widths(8) == (64,) * 8
  small = evolution.Space(input_dim=40, num_classes=10, budget=100)
  with pytest.raises(UsageError, match='below the smallest architecture'):
    evolution.RandomSearch(small, 0)


def _chi2_below_tail(counts, expected):
  """Far inside the chi-square's upper tail (mean dof, sd sqrt(2 dof))."""
  chi2 = float(((counts - expected) ** 2 / expected).sum())
  dof = len(counts) - 1
  return chi2 < dof + 5 * math.sqrt(2 * dof)


def test_random_search_is_uniform_over_the_space():
  n = 40_000
  draws = evolution.RandomSearch(SPACE, 0).ask(n)
  assert all(SPACE.fits(a) for a in draws[:2000])
  # Depth: its law is each depth's share of the space's width tuples (two
  # thirds are 8 deep); a sampler uniform per depth would be far off.
  shares = SPACE.depth_shares()
  depths = np.bincount([a.depth for a in draws], minlength=9)[1:]
  expected = n * np.array([shares[d] for d in SPACE.depths])
  assert expected.min() >= 5     # Depth 1: 3 tuples in 9,491.
  assert _chi2_below_tail(depths, expected)
  assert abs(depths[-1] / n - 6257 / 9491) < 0.01
  # Learning rate and activation: uniform, independent of the depth.
  for field, values in (('learning_rate', SPACE.learning_rates),
                        ('activation', SPACE.activations)):
    counts = np.array([sum(getattr(a, field) == v for a in draws)
                       for v in values])
    assert _chi2_below_tail(counts, np.full(len(values), n / len(values)))
  # Every candidate of a small space equally often.
  tiny = evolution.Space(input_dim=40, num_classes=10, budget=4_000,
                         depths=(1, 2, 3), learning_rates=(1e-2, 3e-2))
  everything = [evolution.Arch(ws, act, lr)
                for t in tiny.width_tuples.values() for ws in t
                for act in tiny.activations for lr in tiny.learning_rates]
  assert len(everything) == tiny.size
  draws = collections.Counter(evolution.RandomSearch(tiny, 1).ask(30_000))
  counts = np.array([draws[a] for a in everything])
  assert counts.sum() == 30_000   # Nothing outside the space.
  assert _chi2_below_tail(counts, np.full(len(counts), 30_000 / tiny.size))


def test_mutations_change_one_thing_and_stay_in_the_space():
  rng = np.random.default_rng(0)
  kinds = collections.Counter()
  for arch in SPACE.sample(rng, 300):
    for kind, options in evolution.neighbours(arch, SPACE).items():
      for n in options:
        assert SPACE.fits(n) and n != arch
        if kind == 'width':     # One layer, one step along the widths.
          (i,) = [i for i, (a, b) in enumerate(zip(arch.widths, n.widths))
                  if a != b]
          assert n.depth == arch.depth and abs(
              SPACE.widths.index(n.widths[i])
              - SPACE.widths.index(arch.widths[i])) == 1
        elif kind == 'depth':   # One layer removed, or one repeated.
          grew = n.depth > arch.depth
          longer, shorter = (n.widths, arch.widths) if grew else (
              arch.widths, n.widths)
          assert len(longer) == len(shorter) + 1
          assert any(longer[:i] + longer[i + 1:] == shorter
                     and (not grew or longer[i] in longer[i - 1:i]
                          + longer[i + 1:i + 2])
                     for i in range(len(longer)))
        else:
          assert n.widths == arch.widths
          assert (n.activation != arch.activation) == (kind == 'activation')
          if kind == 'learning_rate':
            assert abs(SPACE.learning_rates.index(n.learning_rate)
                       - SPACE.learning_rates.index(arch.learning_rate)) == 1
    child = evolution.mutate(rng, arch, SPACE)
    assert SPACE.fits(child) and child != arch
    kinds[next(k for k, o in evolution.neighbours(arch, SPACE).items()
               if child in o)] += 1
  # The kind first, uniformly: deep nets do not mutate mostly their widths.
  assert min(kinds.values()) > 50


TARGET = evolution.Arch((64, 32, 32, 16), 'hard_sigmoid', 3e-2)


def _planted_fitness(arch):
  """0 at TARGET alone, growing with the steps away: depth, each aligned
  layer's width steps, activation, learning-rate steps."""
  w, lr = SPACE.widths, SPACE.learning_rates
  layers = sum(abs(w.index(a) - w.index(b))
               for a, b in zip(arch.widths, TARGET.widths))
  return (abs(arch.depth - TARGET.depth) + layers
          + (arch.activation != TARGET.activation)
          + abs(lr.index(arch.learning_rate) - lr.index(TARGET.learning_rate)))


def _hits(search, generations, batch=8, first=16):
  asked, found = search.ask(first), False
  for g in range(generations + 1):
    fitness = [_planted_fitness(a) for a in asked]
    found |= min(fitness) == 0
    search.tell(asked, fitness)
    asked = search.ask(batch)
  return found


def test_evolution_finds_a_planted_optimum_more_often_than_random_search():
  """The same budget (16 random, then 30 generations of 8: 256 candidates)
  over 20 seeds, on a landscape with one optimum in 94,910. Random search
  finds it with probability 256/94,910 a search (one of 20 searches or
  more: about 5%); evolution climbs to it in at least half."""
  assert SPACE.fits(TARGET) and _planted_fitness(TARGET) == 0
  assert sum(_planted_fitness(a) == 0 for t in SPACE.width_tuples.values()
             for ws in t for a in [evolution.Arch(ws, 'hard_sigmoid', 3e-2)]
             ) == 1
  seeds = range(20)
  evolved = sum(_hits(evolution.RegularizedEvolution(
      SPACE, s, population_size=16, sample_size=4), 30) for s in seeds)
  randomly = sum(_hits(evolution.RandomSearch(SPACE, s), 30) for s in seeds)
  # Measured: evolution 14 of 20, random search 0; an evolution told
  # random fitnesses (blind selection) finds it in 0 of 20.
  assert randomly <= 2
  assert evolved >= 10, evolved


def test_evolution_ages_out_its_oldest_members():
  search = evolution.RegularizedEvolution(SPACE, 0, population_size=4,
                                          sample_size=2)
  first = search.ask(4)
  search.tell(first, [0.0, 1.0, 2.0, 3.0])
  child = search.ask(1)
  search.tell(child, [float('nan')])   # Diverged: the least fit.
  members = [a for a, _ in search.population]
  assert len(members) == 4 and members[-1] == child[0]
  assert members[:3] == first[1:]      # The oldest (even the fittest) left.
  assert search.population[-1][1] == float('inf')
