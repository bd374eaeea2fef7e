"""Can the structure be found automatically? Regularized evolution against
random search over MLPs under a parameter budget (the lecture's last
question; Real et al. 2019).

Each search proposes candidates (depth, width, activation, learning rate;
`deepvsshallow.evolution`); each candidate trains once (its own seed) and
its fitness is its validation error. All searches (methods x search seeds)
advance together, one generation at a time, and every generation's
candidates are grouped by shape: one population, one compiled program per
shape. Both methods train the same number of candidates.

Reported: the best-so-far validation error against candidates trained
(mean and spread over search seeds), the test error of each search's final
pick (test read once, after every search), its optimism (test - validation:
the more candidates a search compares, the more it trains on validation),
and what the searches found.

`run(run)` writes trials.jsonl, results.json, results.md and results.png
(`report.py`).
"""

from __future__ import annotations

import collections
import functools

import numpy as np

from deepvsshallow import evolution, models, runner
from deepvsshallow.studies.architecture_search import report
from deepvsshallow.studies.architecture_search.config import make_space


def _searcher(config, method: str, space, seed: int):
  if method == 'random':
    return evolution.RandomSearch(space, seed)
  return evolution.RegularizedEvolution(
      space, seed, population_size=config.population_size,
      sample_size=config.sample_size)


def _padded(n: int) -> int:
  """Members per population: the next power of two, so that a shape has few
  program variants (the extra members repeat the last and are ignored)."""
  return 1 << (n - 1).bit_length()


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
        groups[arch.shape].append((key, arch, serial))
        serial += 1
    populations = []
    for (depth, width, act), items in sorted(groups.items()):
      padded = items + [items[-1]] * (_padded(len(items)) - len(items))
      populations.append(runner.Population(
          f'gen {generation} {depth}x{width} {act}',
          functools.partial(models.MLP, ds.input_dim, (width,) * depth,
                            ds.num_classes, activation=act),
          ds, info={'generation': generation, 'depth': depth,
                    'width': width, 'activation': act,
                    'real_members': len(items)},
          members=([s for _, _, s in padded],
                   [a.learning_rate for _, a, _ in padded]),
          evaluate_pick=False))
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
    run.log(f'generation {generation}: {len(populations)} shapes; best '
            'validation error so far (mean over seeds): ' + ', '.join(
                f'{m} {100 * b:.2f}%' for m, b in best.items()))
  test = run.read_test(ds)
  # Every member of a population that holds a pick, on test, once: each
  # one's error, and its error on each test example.
  test_errors = {}
  runs = []
  for (method, seed), hist in history.items():
    vals = np.array([v for _, v, _ in hist])
    i = int(np.nanargmin(vals))
    arch, val, (pop, member) = hist[i]
    if pop not in test_errors:
      test_errors[pop] = trained[pop].evaluate_all(test, per_example=True)
    metrics, per_example = test_errors[pop]
    per_example = per_example['error']
    test_err = float(metrics['error'][member])
    runs.append(report.SearchRun(
        method=method, search_seed=seed,
        best_so_far=tuple(np.fmin.accumulate(
            np.where(np.isnan(vals), np.inf, vals)).tolist()),
        candidates=tuple(report.Candidate(
            depth=a.depth, width=a.width, activation=a.activation,
            learning_rate=a.learning_rate, params=space.param_count(a),
            val_error=None if np.isnan(v) else v) for a, v, _ in hist),
        pick=report.Pick(
            arch=arch.describe(), depth=arch.depth, width=arch.width,
            activation=arch.activation, learning_rate=arch.learning_rate,
            params=space.param_count(arch), val_error=val,
            test_error=test_err, optimism=test_err - val, found_at=i + 1,
            test_examples=runner.encode_examples(
                per_example[member:member + 1]))))
  return run.finish(
      {'runs': runs, 'space_size': len(space.all()),
       'candidates_per_search': sum(sizes)},
      render=report.render_markdown, figures={'results.png': report.plot},
      console=report.console)
