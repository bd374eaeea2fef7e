"""Architecture search: regularized (aging) evolution and random search over
MLPs under a parameter budget. Pure Python and numpy; what a candidate's
fitness is (a trained net's validation error) is the caller's business.

A candidate is `Arch(depth, width, activation, learning_rate)`: `depth`
hidden layers of `width` units (all equal). The search space is every
combination of a `Space`'s choices whose MLP fits the budget. Uniform
widths keep the number of distinct shapes small: every shape is a compiled
program.

Both searches have the same interface, `ask(n)` -> n candidates to train,
then `tell(candidates, fitnesses)` (lower is better):

  RandomSearch          every candidate uniform over the space.
  RegularizedEvolution  Real et al. 2019 (AmoebaNet), batched: the first
                        `population_size` candidates are random; after that
                        each child comes from a tournament (`sample_size`
                        members of the current population drawn uniformly,
                        the fittest is the parent) and one mutation. A told
                        batch joins the population and as many of the oldest
                        members leave it (aging), so a lucky candidate cannot
                        stay forever.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Sequence

import numpy as np

from deepvsshallow import params
from deepvsshallow.errors import UsageError


@dataclasses.dataclass(frozen=True, order=True)
class Arch:
  depth: int
  width: int
  activation: str
  learning_rate: float

  @property
  def shape(self) -> tuple[int, int, str]:
    """What the compiled program depends on (not the learning rate)."""
    return (self.depth, self.width, self.activation)

  def describe(self) -> str:
    return (f'{self.depth}x{self.width} {self.activation} '
            f'lr={self.learning_rate:g}')


@dataclasses.dataclass(frozen=True)
class Space:
  input_dim: int
  num_classes: int
  budget: int
  depths: tuple[int, ...] = (1, 2, 3, 4)
  widths: tuple[int, ...] = (16, 32, 64, 128, 256)
  activations: tuple[str, ...] = ('relu', 'hard_sigmoid')
  learning_rates: tuple[float, ...] = (1e-3, 3e-3, 1e-2)

  def param_count(self, arch: Arch) -> int:
    return params.mlp_param_count(self.input_dim, [arch.width] * arch.depth,
                                  self.num_classes)

  def fits(self, arch: Arch) -> bool:
    return (arch.depth in self.depths and arch.width in self.widths
            and arch.activation in self.activations
            and arch.learning_rate in self.learning_rates
            and self.param_count(arch) <= self.budget)

  def all(self) -> list[Arch]:
    """Every candidate within the budget, in a fixed order."""
    return [a for d in self.depths for w in self.widths
            for act in self.activations for lr in self.learning_rates
            if self.fits(a := Arch(d, w, act, lr))]

  def check(self) -> None:
    if not self.all():
      smallest = min(params.mlp_param_count(self.input_dim, [w] * d,
                                            self.num_classes)
                     for d in self.depths for w in self.widths)
      raise UsageError(f'the budget of {self.budget} parameters is below the '
                       f'smallest architecture of the space ({smallest}); '
                       'raise config.budget.')


def neighbours(arch: Arch, space: Space) -> list[Arch]:
  """Every candidate one mutation away that fits the space: depth +-1,
  width one step along `widths`, another activation, learning rate one
  step along `learning_rates`."""
  out = []
  for d in (arch.depth - 1, arch.depth + 1):
    out.append(dataclasses.replace(arch, depth=d))
  i = space.widths.index(arch.width)
  for j in (i - 1, i + 1):
    if 0 <= j < len(space.widths):
      out.append(dataclasses.replace(arch, width=space.widths[j]))
  for act in space.activations:
    if act != arch.activation:
      out.append(dataclasses.replace(arch, activation=act))
  i = space.learning_rates.index(arch.learning_rate)
  for j in (i - 1, i + 1):
    if 0 <= j < len(space.learning_rates):
      out.append(dataclasses.replace(arch,
                                     learning_rate=space.learning_rates[j]))
  return [a for a in out if space.fits(a)]


def mutate(rng: np.random.Generator, arch: Arch, space: Space) -> Arch:
  """One uniformly chosen neighbour (the parent itself if it has none)."""
  options = neighbours(arch, space)
  return options[rng.integers(len(options))] if options else arch


class RandomSearch:
  def __init__(self, space: Space, seed: int):
    space.check()
    self.space, self.rng = space, np.random.default_rng(seed)
    self._all = space.all()

  def ask(self, n: int) -> list[Arch]:
    return [self._all[i] for i in self.rng.integers(len(self._all), size=n)]

  def tell(self, candidates: Sequence[Arch], fitnesses: Sequence[float]):
    del candidates, fitnesses  # Random search does not look.


class RegularizedEvolution:
  def __init__(self, space: Space, seed: int, *, population_size: int,
               sample_size: int):
    space.check()
    if population_size < 1 or not 1 <= sample_size <= population_size:
      raise UsageError(f'evolution needs population_size >= 1 and sample_size'
                       f' in [1, population_size], got {population_size} and '
                       f'{sample_size}.')
    self.space, self.rng = space, np.random.default_rng(seed)
    self.population_size, self.sample_size = population_size, sample_size
    self._random = RandomSearch(space, seed + 1_000_003)
    self.population = collections.deque()   # (Arch, fitness), oldest first.

  def ask(self, n: int) -> list[Arch]:
    if len(self.population) < self.population_size:
      return self._random.ask(n)
    members = list(self.population)
    children = []
    for _ in range(n):
      idx = self.rng.choice(len(members), self.sample_size, replace=False)
      parent = min((members[i] for i in idx), key=lambda m: m[1])[0]
      children.append(mutate(self.rng, parent, self.space))
    return children

  def tell(self, candidates: Sequence[Arch], fitnesses: Sequence[float]):
    for arch, fitness in zip(candidates, fitnesses):
      # A diverged candidate (NaN) is the least fit.
      self.population.append(
          (arch, float(fitness) if np.isfinite(fitness) else np.inf))
    while len(self.population) > self.population_size:
      self.population.popleft()   # Aging: the oldest leaves.


SEARCHES = ('evolution', 'random')
