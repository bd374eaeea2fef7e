r"""MNIST-1D training throughput against the machine's matmul peak.

  python bench/bench_mnist1d.py                  # the default's widest MLPs
  python bench/bench_mnist1d.py --epochs=20 --hidden=1423 --hidden=128,128

What runs is the main job's own compiled training program
(`train.PopulationProgram`: 3 learning rates x 3 seeds, batch 64, Adam,
validation every epoch) on MNIST-1D (3,400 training examples after the
validation carve), timed after compilation. Measured in the same run:
  * the float32 matmul peak (GFLOP/s) from large square dots;
  * the training program in GFLOP/s and as a fraction of that peak;
  * the ceiling: the step's matmuls alone (the same shapes, the same
    members vmapped or in turn as --members resolves for the net, placed
    on the devices the same way, nothing else), as a fraction of the same
    peak. Training cannot beat it.
FLOPs are the matmuls that run: per member step 2 * B * weights forward,
2 * B * weights for the weight gradients, and 2 * B * weights for the input
gradients of every layer but the first (the data needs none); per epoch
2 * weights per validation example. Biases, activations and the optimizer's
elementwise work are not counted, so the fraction is a lower bound on the
machine's busy share.
"""

import argparse
import dataclasses
import functools
import time

import jax
import numpy as np

from bench_population import matmul_peak_gflops
from deepvsshallow import data, models, params, runner, train
from deepvsshallow.studies import deep_vs_shallow


def bench(hidden, dataset, settings, seeds, lrs, epochs):
  model_fn = functools.partial(models.MLP, dataset.input_dim, list(hidden),
                               dataset.num_classes)
  program = train.make_program(model_fn, dataset, settings)
  carry, args = train._run_inputs(program, dataset, seeds, lrs)
  compiled = program.run.lower(carry, np.int32(0), *args).compile()
  times = []
  for _ in range(3):
    carry, args = train._run_inputs(program, dataset, seeds, lrs)
    t0 = time.perf_counter()
    jax.block_until_ready(compiled(carry, np.int32(epochs), *args))
    times.append(time.perf_counter() - t0)
  seconds = min(times)
  weights = params.mlp_param_count(dataset.input_dim, list(hidden),
                                   dataset.num_classes, biases=False)
  first = dataset.input_dim * hidden[0]  # No input gradient for the data.
  steps = len(dataset.train) // settings.batch_size * epochs
  flops = len(seeds) * (2 * settings.batch_size * steps * (3 * weights - first)
                        + 2 * weights * len(dataset.validation) * epochs)
  return seconds, flops / seconds / 1e9, program.members


def bare_matmuls(input_dim, hidden, num_classes, train_size, batch_size,
                 members, epochs, mode: str = 'vmap'):
  """GFLOP/s of one step's matmuls alone, as the training program places
  them: the members vmapped or in turn (`mode`, resolved: 'vmap' or 'map';
  `train.over_members`, the engine's own placement), over the devices. The
  population is padded to the device count as the engine pads it; the
  rate counts the `members` asked for, as the training figure does."""
  dims = [input_dim, *hidden, num_classes]
  shards = jax.local_device_count()
  asked = members
  members += -members % shards  # The engine pads the population the same way.
  keys = jax.random.split(jax.random.key(0), len(dims))
  ws = [jax.random.normal(k, (members, a, b)) / np.sqrt(a)
        for k, a, b in zip(keys, dims[:-1], dims[1:])]
  x = jax.random.normal(keys[-1], (members, batch_size, dims[0]))
  if shards > 1:
    ws, x = jax.device_put((ws, x), jax.sharding.NamedSharding(
        train.population_mesh(), jax.sharding.PartitionSpec('pop')))

  def step(ws, x):  # Forward, then weight and input gradients (not the data's).
    hs = [x]
    for w in ws:
      hs.append(hs[-1] @ w)
    g, new = hs[-1], []
    for i in reversed(range(len(ws))):
      new.append(ws[i] - 1e-9 * (hs[i].T @ g))
      if i:
        g = g @ ws[i].T
    return new[::-1]

  steps = train_size // batch_size * epochs
  member = lambda ws, x: jax.lax.fori_loop(0, steps, lambda _, ws: step(ws, x),
                                           ws)
  loop = jax.jit(train.over_members(member, 2, mode, shards))
  jax.block_until_ready(loop(ws, x))
  times = []
  for _ in range(3):
    t0 = time.perf_counter()
    jax.block_until_ready(loop(ws, x))
    times.append(time.perf_counter() - t0)
  weights = sum(a * b for a, b in zip(dims[:-1], dims[1:]))
  flops = asked * steps * 2 * batch_size * (3 * weights - dims[0] * dims[1])
  return flops / min(times) / 1e9


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--hidden', action='append',
                      help='comma-separated hidden widths; repeatable')
  parser.add_argument('--epochs', type=int, default=10)
  parser.add_argument('--members', default='vmap', choices=train.MEMBER_MODES,
                      help='how the population runs (the engine\'s modes)')
  parser.add_argument('--optimizer', default='adam', choices=train.OPTIMIZERS,
                      help='the main job uses adam; sgd shows its share')
  a = parser.parse_args()
  hiddens = [tuple(int(w) for w in h.split(',')) for h in
             (a.hidden or ['1423', '128,128,128,128,128'])]
  config = deep_vs_shallow.STUDY.get_config('mnist1d')
  dataset = data.load_dataset('mnist1d', val_fraction=config.val_fraction,
                              split_seed=config.split_seed)
  settings = train.TrainSettings.from_config(config)
  settings = dataclasses.replace(settings, progress=False,
                                 members=a.members, optimizer=a.optimizer)
  seeds, lrs = runner.candidate_grid(config.learning_rates, config.num_seeds)
  peak = matmul_peak_gflops()
  print(f'{jax.devices()[0].device_kind} x {jax.local_device_count()}, '
        f'jax {jax.__version__}; float32 matmul peak {peak:.1f} GFLOP/s')
  print(f'MNIST-1D, {len(seeds)} members, batch {settings.batch_size}, '
        f'{a.epochs} epochs per timing (best of 3, compiled once)')
  print('| hidden | seconds | GFLOP/s | fraction of peak | '
        'its matmuls alone (ceiling) |')
  print('|---|---|---|---|---|')
  for hidden in hiddens:
    seconds, gflops, mode = bench(hidden, dataset, settings, seeds, lrs,
                                  a.epochs)
    ceiling = bare_matmuls(dataset.input_dim, hidden, dataset.num_classes,
                           len(dataset.train), settings.batch_size,
                           len(seeds), a.epochs, mode)
    print(f'| {"x".join(map(str, hidden))} | {seconds:.2f} | {gflops:.1f} | '
          f'{gflops / peak:.2f} | {ceiling / peak:.2f} |')


if __name__ == '__main__':
  main()
