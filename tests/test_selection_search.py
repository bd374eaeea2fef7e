"""Selection's optimism and the architecture searches against known answers."""

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


SPACE = evolution.Space(input_dim=40, num_classes=10, budget=20_000)


def test_the_space_holds_exactly_the_candidates_within_budget():
  everything = SPACE.all()
  assert everything and all(SPACE.param_count(a) <= 20_000
                            for a in everything)
  # 1x256 (13,066) fits; 2x128 (23,050) does not.
  assert evolution.Arch(1, 256, 'relu', 1e-3) in everything
  assert evolution.Arch(2, 128, 'relu', 1e-3) not in everything
  assert SPACE.param_count(evolution.Arch(2, 128, 'relu', 1e-3)) == (
      params.mlp_param_count(40, [128, 128], 10)) == 23_050
  small = evolution.Space(input_dim=40, num_classes=10, budget=100)
  with pytest.raises(UsageError, match='below the smallest architecture'):
    evolution.RandomSearch(small, 0)


def test_random_search_is_uniform_over_the_space():
  everything = SPACE.all()
  draws = evolution.RandomSearch(SPACE, 0).ask(30_000)
  counts = np.array([draws.count(a) for a in everything])
  assert counts.sum() == 30_000   # Nothing outside the space.
  expected = 30_000 / len(everything)
  chi2 = float(((counts - expected) ** 2 / expected).sum())
  dof = len(everything) - 1
  # Far inside the chi-square's upper tail (mean dof, sd sqrt(2 dof)).
  assert chi2 < dof + 5 * math.sqrt(2 * dof)


def test_mutations_change_one_thing_and_stay_in_the_space():
  rng = np.random.default_rng(0)
  for arch in SPACE.all()[::7]:
    for n in evolution.neighbours(arch, SPACE):
      assert SPACE.fits(n)
      changed = [f for f in ('depth', 'width', 'activation', 'learning_rate')
                 if getattr(n, f) != getattr(arch, f)]
      assert len(changed) == 1
    assert SPACE.fits(evolution.mutate(rng, arch, SPACE))


def _toy_fitness(arch, target):
  """0 at the target, growing with the number of mutation steps away."""
  s = SPACE
  return (abs(arch.depth - target.depth)
          + abs(s.widths.index(arch.width) - s.widths.index(target.width))
          + (arch.activation != target.activation)
          + abs(s.learning_rates.index(arch.learning_rate)
                - s.learning_rates.index(target.learning_rate)))


def _search(search, target, generations, batch):
  best = []
  asked = search.ask(16)
  for g in range(generations + 1):
    fitness = [_toy_fitness(a, target) for a in asked]
    search.tell(asked, fitness)
    best.append(min([*fitness, *(best[-1:] or [np.inf])]))
    asked = search.ask(batch)
  return best


def test_evolution_finds_a_known_optimum_faster_than_random_search():
  target = evolution.Arch(4, 64, 'hard_sigmoid', 1e-2)
  assert SPACE.fits(target)
  found = {'evolution': [], 'random': []}
  for seed in range(8):
    for name, search in (
        ('evolution', evolution.RegularizedEvolution(
            SPACE, seed, population_size=16, sample_size=4)),
        ('random', evolution.RandomSearch(SPACE, seed))):
      best = _search(search, target, generations=10, batch=4)
      found[name].append(best[-1] == 0)
  # 56 candidates of a space of ~84: evolution climbs to the optimum every
  # time; random search needs luck.
  assert all(found['evolution'])
  assert sum(found['random']) < len(found['random'])


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
