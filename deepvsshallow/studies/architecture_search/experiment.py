"""Can the structure be found automatically? Regularized evolution against
random search over MLPs with per-layer widths under a parameter budget (the
lecture's last question; Real et al. 2019).

Each search proposes candidates (per-layer widths, activation, learning
rate; `deepvsshallow.evolution`); each candidate trains once (its own seed)
and its fitness is its validation error. All searches (methods x search
seeds) advance together, one generation at a time. Both methods train the
same number of candidates.

Shapes recur only by depth: a generation's candidates are grouped by
depth, and every member of a group is its own narrow net zero-padded into
the space's widest net of that depth, its activation a switch it carries
(`SwitchMLP`, `padded_initial`): one compiled program per (depth,
population size) instead of one per width tuple and activation. A
zero-padded unit stays exactly zero in training (its input weights and
bias start at 0, so it outputs act(0) = 0, and its output weights start at
0, so no gradient reaches either; Adam's update of a zero gradient is
zero, and so is any weight decay of a zero weight), so the padded member
computes, and learns, what the narrow net does; a test holds a padded
population to the narrow nets trained one by one.

Reported: the anytime curves (the best validation error so far against
candidates trained, and the test error of that best-so-far candidate,
mean and 95% interval over search seeds), evolution against random search
at each generation's end on that test error (paired over the test
examples, search seeds as replicates), each search's final pick, its
optimism and what the searches tried. The test split is read once, after
every search.

`run(run)` writes trials.jsonl, results.json, results.md and results.png
(`report.py`).
"""

from __future__ import annotations

import collections
import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from deepvsshallow import evolution, models, runner, train
from deepvsshallow.studies.architecture_search import report
from deepvsshallow.studies.architecture_search.config import make_space


def _searcher(config, method: str, space, seed: int):
  if method == 'random':
    return evolution.RandomSearch(space, seed)
  return evolution.RegularizedEvolution(
      space, seed, population_size=config.population_size,
      sample_size=config.sample_size)


def _padded(n: int) -> int:
  """Members per population: the next of 1, 2, 3, 4, 6, 8, 12, 16, 24, ...
  (powers of two and 1.5 times them), so that a depth has few program
  variants and at most a third of a population repeats its last member
  (those extra members are ignored)."""
  power = 1 << (n - 1).bit_length()
  return 3 * power // 4 if 3 * power // 4 >= n else power


class Choice(nnx.Variable):
  """A member's activation, one-hot over the space's (not trained)."""


class SwitchMLP(models.MLP):
  """`models.MLP` whose hidden activation is each member's own: the sum of
  the `activations` weighted by its one-hot `choice`, which is exactly the
  chosen one (1 x a + 0 x b = a in floating point, and so are the
  gradients)."""

  def __init__(self, input_dim: int, hidden_widths, num_classes: int, *,
               activations: tuple[str, ...], rngs: nnx.Rngs):
    super().__init__(input_dim, hidden_widths, num_classes,
                     activation=activations[0], rngs=rngs)
    self.activations = tuple(activations)
    self.choice = Choice(jnp.eye(len(activations))[0])

  def features(self, images_NHWC):
    out = [images_NHWC.reshape(images_NHWC.shape[0], -1)]
    acts = [models.get_activation(a) for a in self.activations]
    for layer in self.hidden:
      z = layer(out[-1])
      out.append(sum(self.choice[k] * act(z) for k, act in enumerate(acts)))
    return out


def padded_model_fn(space: evolution.Space, depth: int):
  """The program's model for every candidate of this depth: the space's
  widest MLP of that depth, with an activation switch."""
  return functools.partial(SwitchMLP, space.input_dim,
                           space.padded_widths(depth), space.num_classes,
                           activations=space.activations)


def padded_initial(arch: evolution.Arch, seed: int, space: evolution.Space):
  """(params, rest) of the member `arch`: the narrow net initialised with
  `seed` (as the engine would initialise it alone:
  `train.member_key(seed, 0)`), its parameters zero-padded into
  `padded_model_fn`'s shapes (each layer starts at the scale of its own
  fan-in and activation, the padded units at exactly zero), and its
  activation's switch."""
  narrow = models.MLP(space.input_dim, arch.widths, space.num_classes,
                      activation=arch.activation,
                      rngs=nnx.Rngs(params=train.member_key(seed, 0)))
  wide = nnx.eval_shape(lambda: padded_model_fn(space, arch.depth)(
      rngs=nnx.Rngs(0)))
  _, wide_params, wide_rest = nnx.split(wide, nnx.Param, ...)
  params = jax.tree.map(
      lambda small, big: np.pad(np.asarray(small), [
          (0, b - s) for s, b in zip(small.shape, big.shape)]),
      nnx.state(narrow, nnx.Param), wide_params)
  (switch,) = jax.tree.leaves(wide_rest)   # The model's only other state.
  choice = np.eye(len(space.activations), dtype=switch.dtype)[
      space.activations.index(arch.activation)]
  return params, jax.tree.map(lambda _: choice, wide_rest)


def _stack(trees):
  return jax.tree.map(lambda *xs: np.stack(xs), *trees)


def run(run: runner.Run) -> dict:
  config = run.config
  ds = run.load_dataset()
  space = make_space(config, ds.input_dim, ds.num_classes)
  searches = {(m, s): _searcher(config, m, space, s)
              for m in config.methods for s in range(config.search_seeds)}
  history = {key: [] for key in searches}   # [(Arch, val, (pop, member))]
  trained = []                              # Every population's Picked.
  serial = 0                                # Each candidate's own seed.
  sizes = [config.population_size] + [config.children_per_generation] * (
      config.generations)
  for generation, size in enumerate(sizes):
    asked = {key: search.ask(size) for key, search in searches.items()}
    groups = collections.defaultdict(list)
    for key, archs in asked.items():
      for arch in archs:
        groups[arch.depth].append((key, arch, serial))
        serial += 1
    populations = []
    for depth, items in sorted(groups.items()):
      padded = items + [items[-1]] * (_padded(len(items)) - len(items))
      populations.append(runner.Population(
          f'gen {generation} depth {depth}', padded_model_fn(space, depth),
          ds, info={'generation': generation, 'depth': depth,
                    'padded_widths': space.padded_widths(depth),
                    'real_members': len(items)},
          members=([s for _, _, s in padded],
                   [a.learning_rate for _, a, _ in padded]),
          evaluate_pick=False,
          initial=_stack([padded_initial(a, s, space)
                          for _, a, s in padded]),
          member_info=[{'search': f'{method} seed {search_seed}',
                        'hidden_widths': list(a.widths),
                        'activation': a.activation,
                        'param_count': space.param_count(a)}
                       for (method, search_seed), a, _ in padded]))
    picked = run.train_all(populations)
    fitness = {key: [] for key in searches}
    for p, items in zip(picked, (groups[k] for k in sorted(groups))):
      base = len(trained)
      for m, (key, arch, _) in enumerate(items):
        val = (np.nan if p.result.diverged[m]
               else float(p.result.best_val[m]))
        history[key].append((arch, val, (base, m)))
        fitness[key].append((arch, val))
      trained.append(p)
    for key, search in searches.items():
      archs, vals = zip(*fitness[key])
      search.tell(archs, vals)
    best = {m: np.mean([np.nanmin([v for _, v, _ in history[(m, s)]])
                        for s in range(config.search_seeds)])
            for m in config.methods}
    run.log(f'generation {generation}: {len(populations)} populations; best '
            'validation error so far (mean over seeds): ' + ', '.join(
                f'{m} {100 * b:.2f}%' for m, b in best.items()))
  test = run.read_test(ds)
  # Every candidate that was some search's best so far, on test, once: its
  # error and its error on each test example. Its whole population is
  # evaluated in one call.
  leaders = {key: report.leaders([v for _, v, _ in hist])
             for key, hist in history.items()}
  tested = {}
  for key, hist in history.items():
    for i in set(leaders[key]) - {-1}:
      pop, member = hist[i][2]
      if pop not in tested:
        metrics, per_example = trained[pop].evaluate_all(test,
                                                         per_example=True)
        tested[pop] = (metrics['error'], per_example['error'])
  runs = []
  for (method, seed), hist in history.items():
    lead = leaders[(method, seed)]
    candidates = []
    for i, (a, v, (pop, member)) in enumerate(hist):
      error = examples = None
      if i in lead:
        error = float(tested[pop][0][member])
        examples = runner.encode_examples(tested[pop][1][member:member + 1])
      candidates.append(report.Candidate(
          depth=a.depth, widths=a.widths, activation=a.activation,
          learning_rate=a.learning_rate, params=space.param_count(a),
          val_error=None if np.isnan(v) else v, test_error=error,
          test_examples=examples or ''))
    pick = lead[-1]
    if pick < 0:
      raise RuntimeError(f'every candidate of {method} search {seed} '
                         'diverged: lower config.search_learning_rates.')
    arch, c = hist[pick][0], candidates[pick]
    runs.append(report.SearchRun(
        method=method, search_seed=seed,
        best_so_far=tuple(None if i < 0 else candidates[i].val_error
                          for i in lead),
        best_so_far_test=tuple(None if i < 0 else candidates[i].test_error
                               for i in lead),
        candidates=tuple(candidates),
        pick=report.Pick(
            arch=arch.describe(), depth=arch.depth, widths=arch.widths,
            activation=arch.activation, learning_rate=arch.learning_rate,
            params=c.params, val_error=c.val_error,
            test_error=c.test_error, optimism=c.test_error - c.val_error,
            found_at=pick + 1, test_examples=c.test_examples)))
  return run.finish(
      {'runs': runs, 'space_size': space.size,
       'space_depth_shares': space.depth_shares(),
       'candidates_per_search': sum(sizes),
       'budgets': np.cumsum(sizes).tolist()},
      render=report.render_markdown, figures={'results.png': report.plot},
      console=report.console)
