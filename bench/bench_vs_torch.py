r"""The main job's 3x128 population: ours, cold, against a plain PyTorch loop.

  pip install torch==2.13.0          # bench-only; a CPU build
  python bench/bench_vs_torch.py     # the main job's settings
  python bench/bench_vs_torch.py --epochs=5 --seeds=2   # a quick check

Both sides train the same members on the same MNIST-1D arrays: every
learning rate of the main job's grid with every seed, an MLP 40-128-128-128-10
with PyTorch's default Linear initialisation (ours: `models.MLP(init='torch')`),
Adam with a cosine decay to 0 over the run, batch 64 in a shuffled order
each epoch (remainder dropped), validation error after every epoch, the
best-validation weights kept and scored on test.

  * Ours: `train.train_population` in a new process with an empty
    compilation cache, one XLA device per core (the launchers' default);
    timed as the process's wall clock, imports and compiling included.
  * PyTorch: `torch.nn.Sequential`, `torch.optim.Adam` and
    `CosineAnnealingLR` stepped per batch, the members one after another
    (what a user would write), timed from the first member's start to the
    last member's end (its imports and the data loading are not counted).
    Three peers: the issue's, one loop with `torch.set_num_threads(cores)`;
    one loop on 1 thread (a 64x128 matmul gains little from a second
    thread); and `cores` processes of 1 thread, the members split between
    them (process start-up counted), which spends the cores the way ours
    does.

It prints the times and the ratio ours / each peer (issue 22's goal: at
most 0.2 against the first), and checks that a fast side is not a broken
one: every final training loss is finite and, for every learning rate, the yardstick
(`stats.compare` over the seeds) cannot tell the two sides' test errors
apart. It exits non-zero if a check fails.
"""

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

from cold import run_cold

HIDDEN = (128, 128, 128)


def main_job_settings(epochs: int | None, seeds: int | None):
  from deepvsshallow.studies import deep_vs_shallow
  config = deep_vs_shallow.STUDY.get_config('')
  return (list(config.learning_rates), seeds or config.num_seeds,
          epochs or config.num_epochs, config.batch_size, config)


def load(config):
  from deepvsshallow import config as config_lib, data
  return data.load_dataset(config.dataset, val_fraction=config.val_fraction,
                           split_seed=config.split_seed,
                           generator=config_lib.generator_of(config))


def ours(epochs: int, seeds: int, out: str) -> None:
  """The child process: trains the population and writes its outcome."""
  from deepvsshallow import runtime
  runtime.use_cpu_devices()
  runtime.setup()
  import dataclasses
  import functools
  import jax
  from deepvsshallow import models, runner, train
  lrs, num_seeds, epochs, batch, config = main_job_settings(epochs, seeds)
  dataset = load(config)
  settings = dataclasses.replace(train.TrainSettings.from_config(config),
                                 num_epochs=epochs, progress=False)
  member_seeds, member_lrs = runner.candidate_grid(lrs, num_seeds)
  model_fn = functools.partial(models.MLP, dataset.input_dim, list(HIDDEN),
                               dataset.num_classes, init='torch')
  result = train.train_population(model_fn, dataset, member_seeds, member_lrs,
                                  settings)
  test = train.EvalProgram(result.step_def, settings)(
      result.best_params, result.best_rest, dataset.test())
  with open(out, 'w') as f:
    json.dump({'lrs': member_lrs, 'seeds': member_seeds,
               'test_error': np.asarray(test['error']).tolist(),
               'final_train_loss': result.final_train_loss.tolist(),
               'devices': jax.local_device_count()}, f)


def run_ours(epochs: int, seeds: int) -> tuple[float, dict]:
  out = os.path.join(tempfile.mkdtemp(prefix='bench_vs_torch_'), 'ours.json')
  seconds = run_cold([sys.executable, os.path.abspath(__file__), '--child',
                      out, f'--epochs={epochs}', f'--seeds={seeds}'], 'ours')
  with open(out) as f:
    return seconds, json.load(f)


def torch_arrays(dataset) -> dict:
  """The splits as the model sees them (float32, flattened as models.MLP
  flattens), plus the sizes: what every PyTorch worker gets."""
  from deepvsshallow import data
  arrays = {'input_dim': dataset.input_dim,
            'num_classes': dataset.num_classes}
  for name, split in (('train', dataset.train),
                      ('validation', dataset.validation),
                      ('test', dataset.test())):
    arrays[name] = (data.prepare_inputs(split.inputs, dataset.input_convention
                                        ).reshape(len(split), -1),
                    split.targets.astype(np.int64))
  return arrays


def torch_members(arrays, members, epochs, batch, threads) -> dict:
  """The plain loop over `members` ((lr, seed) pairs), one after another."""
  import torch
  torch.set_num_threads(threads)
  (x_tr, y_tr), (x_val, y_val), (x_te, y_te) = (
      tuple(map(torch.from_numpy, arrays[k]))
      for k in ('train', 'validation', 'test'))
  steps = len(y_tr) // batch
  out = {'lrs': [], 'seeds': [], 'test_error': [], 'final_train_loss': []}

  def error(model, x, y):
    with torch.no_grad():
      return (model(x).argmax(1) != y).float().mean().item()

  for lr, seed in members:
    torch.manual_seed(seed)
    dims = [arrays['input_dim'], *HIDDEN]
    layers = []
    for a, b in zip(dims[:-1], dims[1:]):
      layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(
        dims[-1], arrays['num_classes']))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * steps)
    order = torch.Generator().manual_seed(seed)
    best, best_state = float('inf'), None
    for _ in range(epochs):
      perm = torch.randperm(len(y_tr), generator=order)[:steps * batch]
      losses = []
      for idx in perm.view(steps, batch):
        loss = torch.nn.functional.cross_entropy(model(x_tr[idx]), y_tr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.detach())
      val = error(model, x_val, y_val)
      if val < best:
        best = val
        best_state = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    out['lrs'].append(lr)
    out['seeds'].append(seed)
    out['test_error'].append(error(model, x_te, y_te))
    out['final_train_loss'].append(torch.stack(losses).mean().item())
  return out


def run_torch(arrays, members, epochs, batch, *, threads=1, processes=1):
  """Seconds and outcome of the members split over `processes` worker
  processes (round robin), each with `threads` threads; one process runs
  here."""
  t0 = time.perf_counter()
  if processes == 1:
    out = torch_members(arrays, members, epochs, batch, threads)
  else:
    import concurrent.futures
    import multiprocessing
    with concurrent.futures.ProcessPoolExecutor(
        processes, mp_context=multiprocessing.get_context('spawn')) as pool:
      parts = list(pool.map(torch_members, [arrays] * processes,
                            [members[i::processes] for i in range(processes)],
                            [epochs] * processes, [batch] * processes,
                            [threads] * processes))
    out = {k: [v for p in parts for v in p[k]] for k in parts[0]}
  return time.perf_counter() - t0, out


def agree(ours_out: dict, torch_out: dict) -> list[str]:
  """One line per learning rate; a line starts with 'FAIL' when a final
  loss is not finite or the yardstick (stats.compare over the seeds) tells
  the two sides' test errors apart: both train the same distribution of
  nets, so neither may be better."""
  from deepvsshallow import stats
  lines = []
  for side, out in (('ours', ours_out), ('torch', torch_out)):
    if not np.all(np.isfinite(out['final_train_loss'])):
      lines.append(f'FAIL: a final training loss of {side} is not finite')
  for lr in sorted(set(ours_out['lrs'])):
    a, b = ([e for l, e in zip(out['lrs'], out['test_error']) if l == lr]
            for out in (ours_out, torch_out))
    c = stats.compare(a, b, higher_is_better=False)
    lines.append(f'{"ok" if c.verdict == "inconclusive" else "FAIL"}: lr '
                 f'{lr:g}: test error ours {100 * np.mean(a):.1f}%, torch '
                 f'{100 * np.mean(b):.1f}%; ' + c.describe(
                     'ours', 'torch', scale=100, unit='points'))
  return lines


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--epochs', type=int, default=None,
                      help='default: the main job\'s')
  parser.add_argument('--seeds', type=int, default=None,
                      help='default: the main job\'s; at least 2')
  parser.add_argument('--child', default=None, help=argparse.SUPPRESS)
  a = parser.parse_args()
  if a.child:
    return ours(a.epochs, a.seeds, a.child)
  lrs, num_seeds, epochs, batch, config = main_job_settings(a.epochs, a.seeds)
  if num_seeds < 2:
    parser.error('--seeds: at least 2 (the check needs a seed spread)')
  try:
    import torch
  except ImportError:
    sys.exit('torch is not installed: pip install torch==2.13.0 (bench only)')
  from deepvsshallow import runtime
  dataset = load(config)  # Prepared once here, before either side is timed.
  cores = runtime.cores()
  ours_s, ours_out = run_ours(epochs, num_seeds)
  arrays = torch_arrays(dataset)
  members = [(lr, seed) for lr in lrs for seed in range(num_seeds)]
  # The peer (one loop, threads = cores), then the two ways a user
  # could spend the cores better on many small nets.
  peers = [(f'PyTorch loop, {cores} threads', dict(threads=cores)),
           ('PyTorch loop, 1 thread', dict(threads=1)),
           (f'PyTorch, {cores} processes x 1 thread (members split)',
            dict(threads=1, processes=cores))]
  timed = [(name, *run_torch(arrays, members, epochs, batch, **how))
           for name, how in peers]
  print(f'MNIST-1D, MLP 40-{"-".join(map(str, HIDDEN))}-10, {len(members)} '
        f'members ({len(lrs)} learning rates x {num_seeds} seeds), batch '
        f'{batch}, {epochs} epochs, validation every epoch; torch '
        f'{torch.__version__}; ours on {ours_out["devices"]} XLA CPU '
        f'device(s), cold (process wall, fresh compilation cache): '
        f'{ours_s:.1f} s')
  print('| peer | seconds | ours / peer |')
  print('|---|---|---|')
  for name, seconds, _ in timed:
    print(f'| {name} | {seconds:.1f} | {ours_s / seconds:.2f} |')
  checks = []
  for name, _, out in timed:
    checks += [f'{name}: {c}' for c in agree(ours_out, out)]
  print('\n'.join(checks))
  if any('FAIL' in c for c in checks):
    sys.exit(1)


if __name__ == '__main__':
  main()
