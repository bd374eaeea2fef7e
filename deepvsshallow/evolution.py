"""Architecture search: regularized (aging) evolution and random search over
MLPs with per-layer widths under a parameter budget. Pure Python and numpy;
what a candidate's fitness is (a trained net's validation error) is the
caller's business.

A candidate is `Arch(widths, activation, learning_rate)`: `len(widths)`
hidden layers, layer i of `widths[i]` units, each width from the space's
`widths`. The search space is every combination of a `Space`'s choices
whose MLP fits the budget. Its width tuples are enumerated once per depth
(a depth-first walk that prunes a prefix no completion can fit); their
number is also counted apart, by dynamic programming over (last width,
parameters so far) (`Space.count_width_tuples`), and the tests hold the two
equal. The space's size is that count times the activations times the
learning rates: the budget does not depend on either.

Both searches have the same interface, `ask(n)` -> n candidates to train,
then `tell(candidates, fitnesses)` (lower is better):

  RandomSearch          every candidate uniform over the space (a width
                        tuple uniform over all of them, whatever its depth;
                        then an activation and a learning rate).
  RegularizedEvolution  Real et al. 2019 (AmoebaNet), batched: the first
                        `population_size` candidates are random; after that
                        each child comes from a tournament (`sample_size`
                        members of the current population drawn uniformly,
                        the fittest is the parent) and one mutation. A told
                        batch joins the population and as many of the oldest
                        members leave it (aging), so a lucky candidate cannot
                        stay forever.

A mutation (`neighbours`, `mutate`) changes one thing: one layer's width one
step along `widths`, the depth (remove a layer, or repeat one beside
itself), the activation, or the learning rate one step along
`learning_rates`. `mutate` first draws the kind of change uniformly among
those that have a neighbour in the space, then the neighbour, so that deep
nets (many layers to widen) do not mutate mostly their widths.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
from typing import Sequence

import numpy as np

from deepvsshallow import params
from deepvsshallow.errors import UsageError


@dataclasses.dataclass(frozen=True, order=True)
class Arch:
  widths: tuple[int, ...]
  activation: str
  learning_rate: float

  @property
  def depth(self) -> int:
    return len(self.widths)

  def describe(self) -> str:
    return (f'{"-".join(map(str, self.widths))} {self.activation} '
            f'lr={self.learning_rate:g}')


MUTATIONS = ('width', 'depth', 'activation', 'learning_rate')


@dataclasses.dataclass(frozen=True)
class Space:
  input_dim: int
  num_classes: int
  budget: int
  depths: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
  widths: tuple[int, ...] = (16, 32, 64)
  activations: tuple[str, ...] = ('relu', 'hard_sigmoid')
  learning_rates: tuple[float, ...] = (3e-3, 1e-2, 3e-2)

  def param_count(self, arch: Arch) -> int:
    return params.mlp_param_count(self.input_dim, list(arch.widths),
                                  self.num_classes)

  def fits(self, arch: Arch) -> bool:
    return (arch.depth in self.depths
            and all(w in self.widths for w in arch.widths)
            and arch.activation in self.activations
            and arch.learning_rate in self.learning_rates
            and self.param_count(arch) <= self.budget)

  @functools.cached_property
  def width_tuples(self) -> dict[int, tuple[tuple[int, ...], ...]]:
    """{depth: every width tuple of that depth within the budget}, sorted."""
    return {d: tuple(self._walk(d)) for d in sorted(set(self.depths))}

  def _walk(self, depth: int):
    """Width tuples of `depth` within the budget, depth first: a prefix is
    dropped as soon as even the narrowest completion would not fit."""
    m, out = min(self.widths), self.num_classes
    ws = sorted(set(self.widths))

    def rest_at_least(k, last):
      # The cheapest completion after k layers ending in `last` units.
      if k == depth:
        return last * out + out
      return (last * m + m + (depth - k - 1) * (m * m + m) + m * out + out)

    def walk(prefix, used):
      k = len(prefix)
      if k == depth:
        yield tuple(prefix)
        return
      prev = prefix[-1] if prefix else self.input_dim
      for w in ws:
        cost = used + prev * w + w
        if cost + rest_at_least(k + 1, w) <= self.budget:
          yield from walk(prefix + [w], cost)
    yield from walk([], 0)

  def count_width_tuples(self, depth: int) -> int:
    """How many width tuples of `depth` fit the budget, counted without
    listing them: dynamic programming over (last width, parameters so far),
    then the head."""
    states = collections.Counter({(self.input_dim, 0): 1})
    for _ in range(depth):
      nxt = collections.Counter()
      for (prev, used), n in states.items():
        for w in set(self.widths):
          if (cost := used + prev * w + w) <= self.budget:
            nxt[(w, cost)] += n
      states = nxt
    return sum(n for (prev, used), n in states.items()
               if used + prev * self.num_classes + self.num_classes
               <= self.budget)

  @property
  def size(self) -> int:
    """Candidates in the space: width tuples x activations x rates."""
    return (sum(len(t) for t in self.width_tuples.values())
            * len(self.activations) * len(self.learning_rates))

  def depth_shares(self) -> dict[int, float]:
    """The share of the space at each depth: a uniform draw's law."""
    total = sum(len(t) for t in self.width_tuples.values())
    return {d: len(t) / total for d, t in self.width_tuples.items()}

  def padded_widths(self, depth: int) -> tuple[int, ...]:
    """The widest each layer is among the space's tuples of `depth`: the
    shape every candidate of that depth is zero-padded into."""
    return tuple(int(w) for w in np.max(self.width_tuples[depth], axis=0))

  def sample(self, rng: np.random.Generator, n: int) -> list[Arch]:
    """`n` candidates uniform over the space (with replacement)."""
    tuples = [t for d in sorted(self.width_tuples)
              for t in self.width_tuples[d]]
    idx = rng.integers(len(tuples), size=n)
    acts = rng.integers(len(self.activations), size=n)
    lrs = rng.integers(len(self.learning_rates), size=n)
    return [Arch(tuples[i], self.activations[a], self.learning_rates[r])
            for i, a, r in zip(idx, acts, lrs)]

  def check(self) -> None:
    if not any(self.width_tuples.values()):
      smallest = min(params.mlp_param_count(
          self.input_dim, [min(self.widths)] * d, self.num_classes)
                     for d in self.depths)
      raise UsageError(f'the budget of {self.budget} parameters is below the '
                       f'smallest architecture of the space ({smallest}); '
                       'raise config.budget.')


def neighbours(arch: Arch, space: Space) -> dict[str, list[Arch]]:
  """Every candidate one mutation away that fits the space, by kind: one
  layer's width one step along `widths`; a layer removed or repeated beside
  itself; another activation; the learning rate one step along
  `learning_rates`."""
  out = {kind: [] for kind in MUTATIONS}
  ws = arch.widths
  for i, w in enumerate(ws):
    j = space.widths.index(w)
    for k in (j - 1, j + 1):
      if 0 <= k < len(space.widths):
        out['width'].append(dataclasses.replace(
            arch, widths=ws[:i] + (space.widths[k],) + ws[i + 1:]))
  for i in range(len(ws)):
    out['depth'].append(dataclasses.replace(arch, widths=ws[:i] + ws[i + 1:]))
    out['depth'].append(dataclasses.replace(
        arch, widths=ws[:i + 1] + ws[i:]))
  for act in space.activations:
    if act != arch.activation:
      out['activation'].append(dataclasses.replace(arch, activation=act))
  i = space.learning_rates.index(arch.learning_rate)
  for j in (i - 1, i + 1):
    if 0 <= j < len(space.learning_rates):
      out['learning_rate'].append(dataclasses.replace(
          arch, learning_rate=space.learning_rates[j]))
  return {kind: sorted(set(a for a in archs if a.depth and space.fits(a)))
          for kind, archs in out.items()}


def mutate(rng: np.random.Generator, arch: Arch, space: Space) -> Arch:
  """A kind of mutation drawn uniformly among those with a neighbour in the
  space, then one of its neighbours (the parent itself if it has none)."""
  kinds = [options for options in neighbours(arch, space).values()
           if options]
  if not kinds:
    return arch
  options = kinds[rng.integers(len(kinds))]
  return options[rng.integers(len(options))]


class RandomSearch:
  def __init__(self, space: Space, seed: int):
    space.check()
    self.space, self.rng = space, np.random.default_rng(seed)

  def ask(self, n: int) -> list[Arch]:
    return self.space.sample(self.rng, n)

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
