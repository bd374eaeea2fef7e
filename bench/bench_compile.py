r"""Compile time of the population program: Threefry unrolled (ours) vs
JAX's own rolled CPU lowering, measured in the same run.

  python bench/bench_compile.py                     # depths 1, 2, 4 x width 32
  python bench/bench_compile.py --depths=2 --widths=16,64,256 --repeats=3

For each MLP shape (MNIST-1D sized: 40 inputs, 10 classes, 3,400 training
examples, population 32, Adam with a cosine schedule, as the optimism and
search studies train them) it compiles the whole training program
(`train.PopulationProgram`, what one population costs the first time it is
seen) under each lowering, with the persistent compilation cache off, and
times one 5-epoch run of it. The random bits, and so the trained members,
are identical under both (tests/test_threefry.py); the bench checks the
final training losses agree too. Only the CPU lowering differs, so on a GPU
or TPU both columns measure the same thing.
"""

import argparse
import functools
import statistics
import time

import jax
import numpy as np

from deepvsshallow import data as data_lib
from deepvsshallow import models, threefry, train


def dataset(n_train=3400, n_val=600, dim=40, classes=10):
  rng = np.random.default_rng(0)
  split = lambda n: data_lib.Split(
      rng.normal(size=(n, dim)).astype(np.float32),
      rng.integers(0, classes, n).astype(np.int32))
  return data_lib.Dataset('bench', split(n_train), split(n_val), (dim,),
                          classes, 'float', 'classification', lambda: None)


def measure(ds, depth, width, population, epochs):
  settings = train.TrainSettings(num_epochs=epochs, batch_size=64,
                                       progress=False, shard=False)
  model_fn = functools.partial(models.MLP, ds.input_dim, [width] * depth,
                               ds.num_classes)
  program = train.make_program(model_fn, ds, settings)
  seeds, lrs = list(range(population)), [1e-3] * population
  t0 = time.perf_counter()
  train.compile_program(program, ds, seeds, lrs)
  compile_s = time.perf_counter() - t0
  t0 = time.perf_counter()
  result = train.run_program(program, ds, seeds, lrs)
  return compile_s, time.perf_counter() - t0, result.final_train_loss


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--depths', default='1,2,4')
  parser.add_argument('--widths', default='32')
  parser.add_argument('--population', type=int, default=32)
  parser.add_argument('--epochs', type=int, default=5)
  parser.add_argument('--repeats', type=int, default=2)
  args = parser.parse_args()
  jax.config.update('jax_enable_compilation_cache', False)
  ds = dataset()
  print(f'jax {jax.__version__} backend={jax.default_backend()}; population '
        f'{args.population}, {args.epochs} epochs; median of {args.repeats} '
        'compiles each (ours first, then JAX\'s)')
  print(f'{"MLP":>8} {"compile ours":>13} {"jax rolled":>11} {"speed-up":>9}'
        f' {"train ours":>11} {"jax rolled":>11}')
  for depth in map(int, args.depths.split(',')):
    for width in map(int, args.widths.split(',')):
      runs = {True: [], False: []}
      for _ in range(args.repeats):
        for ours in (True, False):
          threefry.use_cpu_lowering('unrolled' if ours else 'jax')
          runs[ours].append(measure(ds, depth, width, args.population,
                                    args.epochs))
      for a, b in zip(runs[True], runs[False]):   # Same bits, same training.
        np.testing.assert_array_equal(a[2], b[2])
      c = {k: statistics.median(r[0] for r in v) for k, v in runs.items()}
      t = {k: statistics.median(r[1] for r in v) for k, v in runs.items()}
      print(f'{depth}x{width:<6} {c[True]:12.2f}s {c[False]:10.2f}s '
            f'{c[False] / c[True]:8.2f}x {t[True]:10.2f}s {t[False]:10.2f}s')
  threefry.use_cpu_lowering('unrolled')


if __name__ == '__main__':
  main()
