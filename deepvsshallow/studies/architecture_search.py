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

Files: trials.jsonl, results.json, results.md, results.png.
"""

from __future__ import annotations

import collections
import functools

import numpy as np

from deepvsshallow import config as config_lib
from deepvsshallow import data as data_lib
from deepvsshallow import evolution, models, report, runner, selection, train


def make_space(config, input_dim: int, num_classes: int) -> evolution.Space:
  return evolution.Space(
      input_dim=input_dim, num_classes=num_classes, budget=config.budget,
      depths=tuple(config.depths), widths=tuple(config.widths),
      activations=tuple(config.activations),
      learning_rates=tuple(float(x) for x in config.search_learning_rates))


def check_config(config, problems: config_lib.Problems) -> None:
  for name in config.methods:
    if name not in evolution.SEARCHES:
      problems.add(f'config.methods: unknown {name!r}; known: '
                   f'{", ".join(evolution.SEARCHES)}.')
  config_lib.int_field(problems, config, 'generations', at_least=1)
  config_lib.int_field(problems, config, 'children_per_generation',
                       at_least=1)
  config_lib.int_field(problems, config, 'population_size', at_least=2)
  config_lib.int_field(problems, config, 'sample_size', at_least=1)
  config_lib.int_field(problems, config, 'search_seeds', at_least=1)
  config_lib.int_list(problems, 'depths', config.depths)
  config_lib.int_list(problems, 'widths', config.widths)
  config_lib.int_field(problems, config, 'budget', at_least=1)
  if (config_lib.is_int(config.sample_size, at_least=1)
      and config_lib.is_int(config.population_size, at_least=2)
      and config.sample_size > config.population_size):
    problems.add(f'config.sample_size={config.sample_size} is larger than '
                 f'config.population_size={config.population_size}; lower '
                 'it.')
  for act in config.activations:
    if act not in models.ACTIVATIONS:
      problems.add(f'config.activations: unknown {act!r}; known: '
                   f'{", ".join(models.ACTIVATIONS)}.')
  spec = data_lib.DATASETS.get(config.dataset)
  if spec is not None and not problems:
    space = make_space(config, int(np.prod(spec.input_shape)),
                       spec.num_classes)
    problems.attempt(space.check)


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


def train_and_evaluate(config, workdir: str) -> dict:
  with runner.Run('architecture_search', config, workdir,
                  check=check_config) as run:
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
    runs = []
    for (method, seed), hist in history.items():
      vals = np.array([v for _, v, _ in hist])
      i = int(np.nanargmin(vals))
      arch, val, (pop, member) = hist[i]
      r = trained[pop].result
      take = lambda tree: jax_take(tree, member)
      test_err = float(train.evaluate_population(
          r.step_def, take(r.best_params), take(r.best_rest), test,
          settings=run.settings)['error'][0])
      runs.append({
          'method': method, 'search_seed': seed,
          'best_so_far': np.fmin.accumulate(
              np.where(np.isnan(vals), np.inf, vals)).tolist(),
          'candidates': [{'depth': a.depth, 'width': a.width,
                          'activation': a.activation,
                          'learning_rate': a.learning_rate,
                          'params': space.param_count(a),
                          'val_error': None if np.isnan(v) else v}
                         for a, v, _ in hist],
          'pick': {'arch': arch.describe(), 'depth': arch.depth,
                   'width': arch.width, 'activation': arch.activation,
                   'learning_rate': arch.learning_rate,
                   'params': space.param_count(arch), 'val_error': val,
                   'test_error': test_err, 'optimism': test_err - val,
                   'found_at': i + 1}})
    return run.finish(
        {'runs': runs, 'space_size': len(space.all()),
         'candidates_per_search': sum(sizes)},
        render=render_markdown, figures={'results.png': plot},
        console=lambda s: picks_table(s) + '\n\n' + verdict(s))


def jax_take(tree, member: int):
  """Member `member` of a population's arrays, keeping a leading axis of 1."""
  import jax
  return jax.tree.map(lambda a: a[member:member + 1], tree)


def picks_table(summary) -> str:
  return report.markdown_table(
      ['method', 'search seed', 'pick', 'params', 'found at', 'val err %',
       'test err %', 'optimism pts'],
      [[r['method'], r['search_seed'], r['pick']['arch'],
        f'{r["pick"]["params"]:,}', r['pick']['found_at'],
        f'{100 * r["pick"]["val_error"]:.2f}',
        f'{100 * r["pick"]["test_error"]:.2f}',
        f'{100 * r["pick"]["optimism"]:+.2f}'] for r in summary['runs']])


def _by_method(summary):
  out = collections.defaultdict(list)
  for r in summary['runs']:
    out[r['method']].append(r)
  return out


def _depth_share(candidates, top: float = 0.1):
  """Mean depth of all candidates and of the best `top` fraction (by val)."""
  done = [c for c in candidates if c['val_error'] is not None]
  ranked = sorted(done, key=lambda c: c['val_error'])
  best = ranked[:max(1, int(top * len(ranked)))]
  return (float(np.mean([c['depth'] for c in done])),
          float(np.mean([c['depth'] for c in best])))


def verdict(summary) -> str:
  said = []
  by = _by_method(summary)
  n = summary['candidates_per_search']
  for method, runs in by.items():
    val = [r['pick']['val_error'] for r in runs]
    tst = [r['pick']['test_error'] for r in runs]
    opt = [r['pick']['optimism'] for r in runs]
    every = [c for r in runs for c in r['candidates']]
    all_depth, top_depth = _depth_share(every)
    said.append(
        f'{method}: after {n} candidates, best validation error '
        f'{report.pct(*selection.mean_std(val))}%, its test error '
        f'{report.pct(*selection.mean_std(tst))}%, optimism '
        f'{100 * np.mean(opt):+.2f} points (mean over {len(runs)} search '
        f'seeds). Mean depth of its candidates {all_depth:.2f}; of its best '
        f'10% {top_depth:.2f}.')
  if {'evolution', 'random'} <= set(by):
    ev = selection.mean_std([r['pick']['test_error'] for r in by['evolution']])
    rs = selection.mean_std([r['pick']['test_error'] for r in by['random']])
    diff = rs[0] - ev[0]
    spread = max(ev[1], rs[1])
    said.append(
        'Evolution vs random search on the picks\' test error: '
        + ('evolution ahead' if diff > spread else 'random search ahead'
           if diff < -spread else 'a tie within the search seeds\' spread')
        + f' ({100 * ev[0]:.2f}% vs {100 * rs[0]:.2f}%). The space holds '
        f'{summary["space_size"]} candidates.')
  return '\n'.join(f'- {s}' for s in said)


def render_markdown(summary) -> str:
  cfg = summary['config']
  return '\n'.join([
      '# Can the structure be found automatically? Evolution vs random '
      'search', '',
      f'{cfg["dataset"]}; MLPs with depth in {tuple(cfg["depths"])}, one '
      f'width for all layers from {tuple(cfg["widths"])}, activation in '
      f'{tuple(cfg["activations"])}, Adam learning rate in '
      f'{tuple(cfg["search_learning_rates"])}, at most {cfg["budget"]:,} '
      f'parameters: {summary["space_size"]} candidates in the space. Each '
      f'search trains {summary["candidates_per_search"]} candidates '
      f'({cfg["population_size"]} random, then {cfg["generations"]} '
      f'generations of {cfg["children_per_generation"]}), each '
      f'{cfg["num_epochs"]} epochs with its own seed; fitness is the '
      'validation error. Regularized evolution: tournaments of '
      f'{cfg["sample_size"]} from a population of {cfg["population_size"]},'
      ' one mutation (depth ±1, width one step, activation, learning rate '
      'one step), the oldest leaves (Real et al. 2019). Random search: '
      f'uniform over the space. {cfg["search_seeds"]} search seeds each.',
      '', picks_table(summary), '', verdict(summary), '',
      '![best-so-far validation error against candidates trained]'
      '(results.png)', '',
      'The optimism of a pick grows with the number of candidates compared '
      '(see the optimism study): a search is training on its validation '
      'set, and only the test split, read once at the end, says how good '
      'the pick is.', '', report.run_footer(summary), ''])


def plot(summary, path: str) -> None:
  plt = report.pyplot()
  fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
  colors = {'evolution': 'tab:blue', 'random': 'tab:orange'}
  for method, runs in _by_method(summary).items():
    curves = 100 * np.array([r['best_so_far'] for r in runs])
    x = np.arange(1, curves.shape[1] + 1)
    mean = curves.mean(0)
    axes[0].plot(x, mean, color=colors.get(method), label=method)
    axes[0].fill_between(x, curves.min(0), curves.max(0), alpha=0.2,
                         color=colors.get(method))
    depths = [c['depth'] for r in runs for c in r['candidates']]
    axes[1].hist(depths, bins=np.arange(0.5, max(depths) + 1.5),
                 alpha=0.5, color=colors.get(method), label=method)
  axes[0].set_xlabel('candidates trained (per search)')
  axes[0].set_ylabel('best validation error so far (%)')
  axes[0].set_title('mean over search seeds (band: min to max)')
  axes[1].set_xlabel('depth of the candidates trained')
  axes[1].set_ylabel('candidates')
  for ax in axes:
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
  fig.suptitle(f'{summary["config"]["dataset"]}: architecture search under '
               f'{summary["config"]["budget"]:,} parameters')
  report.save_figure(fig, path)
  plt.close(fig)


def headline(summary) -> str:
  """The claim's verdict in one line (the lecture report's)."""
  return verdict(summary).splitlines()[-1][2:]
