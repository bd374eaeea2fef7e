r"""MLP populations: members in turn (lax.map) against vmapped members, by size.

  python bench/bench_members.py                 # the studies' MLPs, 2 devices
  python bench/bench_members.py --epochs=10 --case=main

Each case is one study's population of MLPs as it trains on its default:
the same number of members and input, output and training-set sizes (about,
for modularity, whose training set grows with its rare count), batch 64,
Adam, validation every epoch, the engine's own compiled program
(`train.PopulationProgram`) on random data of those shapes (a step costs
the same on any data of one shape). Both modes are compiled once each,
run once untimed, then timed alternately in the same run (vmap, map, map,
vmap, ...), best of `--rounds`; the figure is map / vmap. 'auto' takes
turns on CPU from `train.MAP_MIN_PARAMS` parameters: the last column says
which mode it picks. Sharded over every device (a launcher's one per core).
"""

import argparse
import dataclasses
import functools
import time

import jax
import numpy as np

from deepvsshallow import data, models, params, runtime, train

# (study, inputs, training examples, validation examples, classes, members,
#  hidden widths): the default's MLPs around the threshold and above it.
CASES = {
    'main': [('deep_vs_shallow', 40, 3400, 600, 10, 15, h) for h in (
        (16, 16, 16), (128,), (452,), (128, 128), (776,), (128, 128, 128),
        (1099,), (128,) * 4, (1423,), (128,) * 5)],
    'other': [
        ('modularity', 784, 1800, 300, 4, 20, (64, 64)),
        ('end_to_end raw', 1600, 5440, 960, 10, 9, (256, 256, 256)),
        ('end_to_end raw', 1600, 5440, 960, 10, 9, (338,)),
        ('end_to_end features', 143, 5440, 960, 10, 9, (483, 483, 483)),
        ('end_to_end features', 143, 5440, 960, 10, 9, (3519,)),
    ],
}


def random_dataset(dim, n_train, n_val, classes):
  rng = np.random.default_rng(0)
  split = lambda n: data.Split(
      rng.normal(size=(n, dim)).astype(np.float32),
      rng.integers(0, classes, n).astype(np.int32))
  val = split(n_val)
  return data.Dataset('random', split(n_train), val, (dim,), classes,
                      'float', 'classification', lambda: val)


def seconds(program, compiled, dataset, members, epochs):
  carry, args = train._run_inputs(program, dataset, list(range(members)),
                                  [1e-3] * members)
  start = time.perf_counter()
  jax.block_until_ready(compiled(carry, np.int32(epochs), *args))
  return time.perf_counter() - start


def bench(case, epochs, rounds):
  """(vmap seconds, map seconds, auto's mode, parameters) of one case."""
  _, dim, n_train, n_val, classes, members, hidden = case
  dataset = random_dataset(dim, n_train, n_val, classes)
  model_fn = functools.partial(models.MLP, dim, list(hidden),
                               dataset.num_classes)
  base = train.TrainSettings(num_epochs=epochs, patience=0, progress=False)
  compiled = {}
  for mode in ('vmap', 'map'):
    program = train.make_program(
        model_fn, dataset, dataclasses.replace(base, members=mode))
    carry, args = train._run_inputs(program, dataset, list(range(members)),
                                    [1e-3] * members, start=False)
    compiled[mode] = (program,
                      program.run.lower(carry, np.int32(0), *args).compile())
    seconds(*compiled[mode], dataset, members, epochs)   # Untimed: warm.
  times = {mode: [] for mode in compiled}
  for r in range(rounds):
    for mode in ('vmap', 'map')[::1 if r % 2 == 0 else -1]:
      times[mode].append(seconds(*compiled[mode], dataset, members, epochs))
  auto = train.make_program(model_fn, dataset, base).members
  return (min(times['vmap']), min(times['map']), auto,
          params.model_param_count(model_fn))


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--case', action='append', choices=sorted(CASES),
                      help='which populations (repeatable; default: all)')
  parser.add_argument('--epochs', type=int, default=4)
  parser.add_argument('--rounds', type=int, default=4)
  a = parser.parse_args()
  print(f'{jax.devices()[0].device_kind} x {jax.device_count()}, '
        f'jax {jax.__version__}; {a.epochs} epochs a timing, best of '
        f'{a.rounds} alternating rounds, compiled once')
  print('| study | MLP | members | params | vmap s | map s | map / vmap | '
        'auto |')
  print('|---|---|---|---|---|---|---|---|')
  for name in a.case or sorted(CASES):
    for case in CASES[name]:
      study, dim, _, _, _, members, hidden = case
      vmap, in_turn, auto, count = bench(case, a.epochs, a.rounds)
      print(f'| {study} | {dim}-{"x".join(map(str, hidden))} | {members} | '
            f'{count:,} | {vmap:.2f} | {in_turn:.2f} | {in_turn / vmap:.2f} '
            f'| {auto} |', flush=True)


if __name__ == '__main__':
  runtime.use_cpu_devices()
  main()
