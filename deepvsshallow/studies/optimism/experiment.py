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
standard normals] (about sigma * sqrt(2 ln K)); test - holdout, which
should not grow with K; and holdout - select, the optimism measured without
the test split (select and holdout are halves of one carve, so one is not
harder than the other by construction, as test may be).

Files: trials.jsonl, results.json, results.md, results.png (`report.py`).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from deepvsshallow import data as data_lib
from deepvsshallow import models, params, runner, selection
from deepvsshallow.studies.optimism import report


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


def run(run: runner.Run) -> dict:
  config = run.config
  rng = np.random.default_rng(config.pool_seed)
  pools = []
  for name in config.datasets:
    ds, holdout = split_validation(run.load_dataset(name),
                                   config.split_seed)
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
    results[name] = analyse(config, ds, holdout, picked, tests[name])
  return run.finish({'datasets': results}, render=report.render_markdown,
                    figures={'results.png': report.plot},
                    console=report.console)


def analyse(config, ds, holdout, picked, test) -> report.Pool:
  """Every candidate's select / holdout / test error (and its error on each
  test example), then the bootstrap."""
  val, hold, tst = [], [], []
  examples = {'select': [], 'holdout': [], 'test': []}
  for p in picked:
    r = p.result
    ok = ~r.diverged & np.isfinite(r.best_val)
    val.extend(r.best_val[ok])
    for split, errors, data in (('holdout', hold, holdout),
                                ('test', tst, test),
                                ('select', None, ds.validation)):
      metrics, per_example = p.evaluate_all(data, per_example=True)
      if errors is not None:
        errors.extend(metrics['error'][ok])
      examples[split].append(per_example['error'][ok])
  val, hold, tst = map(np.asarray, (val, hold, tst))
  ks = [k for k in config.ks if k <= len(val)]
  sigma = noise_sigma(val, hold)
  rows = tuple(
      report.KRow.from_bootstrap(
          row, predicted_optimism=sigma
          * selection.expected_max_normal(row['k']),
          sqrt_2_ln_k=sigma * math.sqrt(2 * math.log(row['k'])))
      for row in selection.bootstrap_best_of_k(
          val, tst, ks, resamples=config.resamples, seed=config.pool_seed,
          holdout_N=hold))
  diverged = sum(int(p.result.diverged.sum()) for p in picked)
  return report.Pool(
      rows=rows, sigma=sigma, pool=len(val),
      # Every finished candidate's errors, for any other analysis.
      candidates={'select': np.round(val, 6).tolist(),
                  'holdout': np.round(hold, 6).tolist(),
                  'test': np.round(tst, 6).tolist()},
      diverged=diverged,
      split_sizes={'train': len(ds.train), 'select': len(ds.validation),
                   'holdout': len(holdout), 'test': len(test)},
      pool_val_error=selection.mean_std(val),
      pool_test_error=selection.mean_std(tst),
      best_test_in_pool=float(tst.min()),
      **{f'{split}_examples': runner.encode_examples(np.concatenate(e))
         for split, e in examples.items()})
