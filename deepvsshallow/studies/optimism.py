"""Selection is training: the optimism of picking the best of K candidates on
a validation set, against K (Cawley & Talbot 2010).

One pool of candidates is trained once: random MLP architectures under a
parameter budget (depth and width), each with random learning rates
(log-uniform), one seed each, every architecture's candidates trained
together as one population. Each candidate is scored on three splits:

  select   half of the validation split, used for early stopping and for
           every pick;
  holdout  the other half, never used by training or picking: the cure, a
           second held-out split used once;
  test     read once, after all training.

Then, for K = 1, 2, 4, ..., the best of K candidates drawn from the pool
(without replacement, `resamples` times) is picked on `select`. Its
optimism is test - select. Beside it: the prediction for K equally good
candidates with the measured validation noise sigma, sigma * E[max of K
standard normals] (about sigma * sqrt(2 ln K)), and test - holdout, which
should stay near 0.

Files: trials.jsonl, results.json, results.md, results.png.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from deepvsshallow import config as config_lib
from deepvsshallow import data as data_lib
from deepvsshallow import models, params, report, runner, selection, train


def check_config(config, problems: config_lib.Problems) -> None:
  for name in config.datasets:
    problems.attempt(data_lib.get_spec, name)
  ks = config_lib.int_list(problems, 'ks', config.ks)
  config_lib.int_field(problems, config, 'pool_architectures', at_least=1)
  config_lib.int_field(problems, config, 'candidates_per_architecture',
                       at_least=1)
  config_lib.int_field(problems, config, 'resamples', at_least=10)
  config_lib.int_field(problems, config, 'pool_seed', at_least=0)
  depths = config_lib.int_list(problems, 'depths', config.depths)
  lo, hi = tuple(config.lr_range) if len(config.lr_range) == 2 else (0, 0)
  if not 0 < lo <= hi:
    problems.add(f'config.lr_range must be (low, high) with 0 < low <= high,'
                 f' got {tuple(config.lr_range)}.')
  pool = config.pool_architectures * config.candidates_per_architecture if (
      config_lib.is_int(config.pool_architectures, at_least=1)
      and config_lib.is_int(config.candidates_per_architecture, at_least=1)
  ) else None
  if pool and ks and all(config_lib.is_int(k, at_least=1) for k in ks) and (
      max(ks) > pool):
    problems.add(f'config.ks has K={max(ks)} > the pool of {pool} candidates '
                 f'({config.pool_architectures} architectures x '
                 f'{config.candidates_per_architecture}); lower K or grow the '
                 'pool.')
  if depths and config_lib.is_int(config.budget, at_least=1):
    depth = max(depths)   # Every depth must fit at width 1.
    over = []
    for name in config.datasets:
      spec = data_lib.DATASETS.get(name)
      if spec is not None:
        smallest = params.mlp_param_count(int(np.prod(spec.input_shape)),
                                          [1] * depth, spec.num_classes)
        if config.budget < smallest:
          over.append(f'{smallest} on {name}')
    if over:
      problems.add(f'config.budget={config.budget} is below the smallest '
                   f'architecture (depth {depth}, width 1: '
                   f'{", ".join(over)} parameters); raise it.')
  else:
    config_lib.int_field(problems, config, 'budget', at_least=1)


def sample_architectures(rng: np.random.Generator, count: int, depths,
                         budget: int, input_dim: int, num_classes: int):
  """`count` (depth, width) pairs: depth uniform over `depths`, width
  uniform over 1..the widest that fits the budget at that depth."""
  out = []
  for _ in range(count):
    depth = int(rng.choice(depths))
    widest = params.budget_width(input_dim, depth, num_classes, budget).width
    out.append((depth, int(rng.integers(1, widest + 1))))
  return out


def log_uniform(rng: np.random.Generator, low: float, high: float,
                size: int) -> np.ndarray:
  return np.exp(rng.uniform(math.log(low), math.log(high), size))


def split_validation(ds: data_lib.Dataset, seed: int):
  """(dataset whose validation is the `select` half, the `holdout` half)."""
  n = len(ds.validation)
  order = np.random.default_rng(seed).permutation(n)
  take = lambda idx: data_lib.Split(ds.validation.inputs[np.sort(idx)],
                                    ds.validation.targets[np.sort(idx)])
  return (dataclasses.replace(ds, validation=take(order[:n // 2])),
          take(order[n // 2:]))


def noise_sigma(val_N, holdout_N, top_fraction: float = 0.25) -> float:
  """The validation noise measured on the pool: select and holdout are two
  independent estimates of each candidate's error, so among the best
  candidates std(select - holdout) / sqrt(2) is one split's noise. The best
  are ranked by select + holdout, which (for equal Gaussian noise) is
  independent of the difference; ranking by select alone would cut its
  noise off and bias sigma low."""
  val_N, holdout_N = np.asarray(val_N), np.asarray(holdout_N)
  best = np.argsort(val_N + holdout_N)[:max(2, int(top_fraction
                                                    * len(val_N)))]
  return float(np.std(val_N[best] - holdout_N[best], ddof=1) / math.sqrt(2))


def train_and_evaluate(config, workdir: str) -> dict:
  with runner.Run('optimism', config, workdir, check=check_config) as run:
    rng = np.random.default_rng(config.pool_seed)
    pools = []
    for name in config.datasets:
      ds = data_lib.load_dataset(
          name, data_dir=config.data_dir or None,
          val_fraction=config.val_fraction, split_seed=config.split_seed,
          generator=config_lib.generator_of(config)
          if data_lib.get_spec(name).generator else None)
      ds, holdout = split_validation(ds, config.split_seed)
      run.log(f'{name}: train {len(ds.train)}, select {len(ds.validation)}, '
              f'holdout {len(holdout)}')
      archs = sample_architectures(rng, config.pool_architectures,
                                   tuple(config.depths), config.budget,
                                   ds.input_dim, ds.num_classes)
      populations = []
      for a, (depth, width) in enumerate(archs):
        m = config.candidates_per_architecture
        lrs = log_uniform(rng, *config.lr_range, m)
        seeds = [a * m + i for i in range(m)]
        populations.append(runner.Population(
            f'{name} {depth}x{width}',
            functools.partial(models.MLP, ds.input_dim, (width,) * depth,
                              ds.num_classes),
            ds, info={'dataset': name, 'depth': depth, 'width': width},
            members=(seeds, lrs.tolist()),
            evaluate_pick=False))
      pools.append((name, ds, holdout, populations))
    # One call for every dataset's pool: array tasks share all of it.
    everything = run.train_all([p for *_, pops in pools for p in pops])
    trained, start = [], 0
    for name, ds, holdout, populations in pools:
      trained.append((name, ds, holdout,
                      everything[start:start + len(populations)]))
      start += len(populations)
    tests = {name: run.read_test(ds) for name, ds, _, _ in trained}
    results = {}
    for name, ds, holdout, picked in trained:
      results[name] = _analyse(config, run, name, ds, holdout, picked,
                               tests[name])
    return run.finish({'datasets': results}, render=render_markdown,
                      figures={'results.png': plot},
                      console=lambda s: '\n\n'.join(
                          f'{n}:\n' + results_table(r) for n, r in
                          s['datasets'].items()))


def _analyse(config, run, name, ds, holdout, picked, test) -> dict:
  """Every candidate's select / holdout / test error, then the bootstrap."""
  val, hold, tst = [], [], []
  for p in picked:
    r = p.result
    ok = ~r.diverged & np.isfinite(r.best_val)
    evaluate = functools.partial(train.evaluate_population, r.step_def,
                                 r.best_params, r.best_rest,
                                 settings=run.settings)
    val.extend(r.best_val[ok])
    hold.extend(evaluate(holdout)['error'][ok])
    tst.extend(evaluate(test)['error'][ok])
  val, hold, tst = map(np.asarray, (val, hold, tst))
  ks = [k for k in config.ks if k <= len(val)]
  rows = selection.bootstrap_optimism(val, tst, ks,
                                      resamples=config.resamples,
                                      seed=config.pool_seed, holdout_N=hold)
  sigma = noise_sigma(val, hold)
  for row in rows:
    row['predicted_optimism'] = sigma * selection.expected_max_normal(
        row['k'])
    row['sqrt_2_ln_k'] = sigma * math.sqrt(2 * math.log(row['k']))
  diverged = sum(int(p.result.diverged.sum()) for p in picked)
  return {'rows': rows, 'sigma': sigma, 'pool': len(val),
          # Every finished candidate's errors, for any other analysis.
          'candidates': {'select': np.round(val, 6).tolist(),
                         'holdout': np.round(hold, 6).tolist(),
                         'test': np.round(tst, 6).tolist()},
          'diverged': diverged,
          'split_sizes': {'train': len(ds.train),
                          'select': len(ds.validation),
                          'holdout': len(holdout), 'test': len(test)},
          'pool_val_error': selection.mean_std(val),
          'pool_test_error': selection.mean_std(tst),
          'best_test_in_pool': float(tst.min())}


def results_table(result) -> str:
  pm = lambda r, key: (f'{100 * r[f"{key}_mean"]:.2f} ± '
                       f'{100 * r[f"{key}_std"]:.2f}')
  return report.markdown_table(
      ['K', 'picked: select err %', 'picked: test err %',
       'optimism (test − select) pts', 'predicted σ·E[max K] pts',
       'test − holdout pts'],
      [[r['k'], pm(r, 'val'), pm(r, 'test'), pm(r, 'optimism'),
        f'{100 * r["predicted_optimism"]:.2f}', pm(r, 'holdout_optimism')]
       for r in result['rows']])


def verdict(name, result) -> str:
  rows = result['rows']
  first, last = rows[0], rows[-1]
  # The spread of a mean over resamples that share one pool: use the
  # resamples' own std at the largest K as the yardstick.
  grows = (last['optimism_mean'] - first['optimism_mean']
           > last['optimism_std'])
  cure_moves = (last['holdout_optimism_mean'] - first['holdout_optimism_mean']
                > last['holdout_optimism_std'])
  return (f'{name}: test − select goes from {100 * first["optimism_mean"]:.2f}'
          f' points at K={first["k"]} to {100 * last["optimism_mean"]:.2f} at '
          f'K={last["k"]} (the prediction for equally good candidates with '
          f'σ = {100 * result["sigma"]:.2f} points: '
          f'{100 * last["predicted_optimism"]:.2f}); it '
          + ('grows with K' if grows else 'does not grow with K beyond the '
             'spread')
          + '. Test − holdout (the holdout used once) goes from '
          f'{100 * first["holdout_optimism_mean"]:.2f} to '
          f'{100 * last["holdout_optimism_mean"]:.2f}: '
          + ('it grows too' if cure_moves else 'it does not grow with K')
          + '.')


def render_markdown(summary) -> str:
  cfg = summary['config']
  lines = ['# Selection is training: optimism against the number of '
           'candidates', '',
           f'A pool of {cfg["pool_architectures"]} random MLP architectures '
           f'(depth in {tuple(cfg["depths"])}, parameters ≤ '
           f'{cfg["budget"]:,}) x {cfg["candidates_per_architecture"]} '
           f'log-uniform learning rates in {tuple(cfg["lr_range"])}, one seed '
           f'each, {cfg["num_epochs"]} epochs, early-stopped on the select '
           f'split. For each K, {cfg["resamples"]:,} draws of K candidates '
           'from the pool; the one with the lowest select error is picked. '
           'Mean ± std over draws. Cawley & Talbot (2010, JMLR 11) describe '
           'this over-fitting in model selection.', '']
  for name, result in summary['datasets'].items():
    s = result['split_sizes']
    lines += [f'## {name}', '',
              f'Splits: train {s["train"]}, select {s["select"]}, holdout '
              f'{s["holdout"]}, test {s["test"]}; {result["pool"]} '
              f'candidates finished ({result["diverged"]} diverged). Pool '
              f'test error {report.pct(*result["pool_test_error"])}%, best in '
              f'pool {100 * result["best_test_in_pool"]:.2f}%.', '',
              results_table(result), '', '- ' + verdict(name, result), '']
  lines += ['![optimism against K](results.png)', '',
            'How to read it:', '',
            '- The prediction assumes K equally good candidates. Real ones '
            'differ, so the best on select is usually also among the truly '
            'good, and the measured optimism stays below the prediction.',
            '- At K = 1 the optimism is not 0: each candidate\'s epoch is '
            'itself picked on select (early stopping), the best of '
            f'{summary["config"]["num_epochs"]} noisy evaluations.',
            '- Test − holdout does not start at 0 either. Holdout and test '
            'are different examples, so one is a little easier, and every '
            'candidate sees the same split. That offset does not grow with '
            'K, because nothing was picked on the holdout.',
            '- A select error at its floor of 0 (digits, where many '
            'candidates make no mistakes on a small split) cannot get more '
            'optimistic, so the optimism there stops growing.', '',
            report.run_footer(summary), '']
  return '\n'.join(lines)


def plot(summary, path: str) -> None:
  plt = report.pyplot()
  names = list(summary['datasets'])
  fig, axes = plt.subplots(1, len(names), figsize=(5.5 * len(names), 3.8),
                           squeeze=False)
  for ax, name in zip(axes[0], names):
    rows = summary['datasets'][name]['rows']
    k = [r['k'] for r in rows]
    ax.errorbar(k, [100 * r['optimism_mean'] for r in rows],
                yerr=[100 * r['optimism_std'] for r in rows], marker='o',
                capsize=2, label='measured: test − select')
    ax.plot(k, [100 * r['predicted_optimism'] for r in rows], 'k--',
            label='σ·E[max of K] (equal candidates)')
    ax.errorbar(k, [100 * r['holdout_optimism_mean'] for r in rows],
                yerr=[100 * r['holdout_optimism_std'] for r in rows],
                marker='s', capsize=2, color='tab:green',
                label='cure: test − holdout')
    ax.axhline(0, color='grey', lw=0.8)
    ax.set_xscale('log', base=2)
    ax.set_xlabel('K candidates compared')
    ax.set_ylabel('points of error')
    ax.set_title(f'{name} (select {summary["datasets"][name]["split_sizes"]["select"]} examples)')
    ax.grid(True, which='both', alpha=0.3)
  axes[0, 0].legend(fontsize=8)
  fig.suptitle('The optimism of picking the best of K on validation')
  report.save_figure(fig, path)
  plt.close(fig)


def headline(summary) -> str:
  """The claim's verdict in one line (the lecture report's)."""
  parts = []
  for name, result in summary['datasets'].items():
    last = result['rows'][-1]
    parts.append(f'{name}: picking the best of K={last["k"]} on validation '
                 f'is optimistic by {100 * last["optimism_mean"]:.2f} points '
                 f'(K=1: {100 * result["rows"][0]["optimism_mean"]:.2f}); '
                 'a holdout used once is off by '
                 f'{100 * last["holdout_optimism_mean"]:+.2f}')
  return '; '.join(parts) + '.'
