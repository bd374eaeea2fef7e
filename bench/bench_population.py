r"""Population training step: vmapped vs a Python loop vs the matmul peak.

  python bench/bench_population.py                 # widths 64..1024
  python bench/bench_population.py --widths=256,512 --population=8
  XLA_FLAGS=--xla_force_host_platform_device_count=2 \
      python bench/bench_population.py --shard     # one CPU device per core

Three things measured in one run, on whatever backend JAX picks:
  * the machine's own float32 matmul peak (GFLOP/s), from large square dots;
  * one jitted, vmapped `train.train_step` over a population of P same-shape
    MLPs (Adam, batch B per member), in GFLOP/s and as a fraction of peak;
  * the same P models stepped one after another by a Python loop over the
    single-model jitted step (the "plain loop" peer).
FLOPs per member step: 6 * B * (number of weights): 2 for the forward matmuls,
4 for the backward (gradients with respect to weights and activations).
"""

import argparse
import functools
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from deepvsshallow import models, params, tasks, train


def timed(fn, *args, repeats=10, warmup=2):
  for _ in range(warmup):
    jax.block_until_ready(fn(*args))
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - t0)
  return statistics.median(times)


def matmul_peak_gflops(n: int = 2048) -> float:
  """The best of one large dot and one dot per local device at once."""
  k = jax.local_device_count()
  a = jax.random.normal(jax.random.key(0), (k, n, n), jnp.float32)
  b = jax.random.normal(jax.random.key(1), (k, n, n), jnp.float32)
  single = 2 * n ** 3 / timed(jax.jit(jnp.dot), a[0], b[0], repeats=20) / 1e9
  if k == 1:
    return single
  sharding = jax.sharding.NamedSharding(train.population_mesh(),
                                        jax.sharding.PartitionSpec('pop'))
  a, b = jax.device_put((a, b), sharding)
  batched = jax.jit(lambda a, b: jnp.einsum('kij,kjl->kil', a, b))
  return max(single, k * 2 * n ** 3 / timed(batched, a, b, repeats=20) / 1e9)


def bench_width(width, *, depth, population, batch, shard, input_dim=784,
                num_classes=10):
  model_fn = functools.partial(models.MLP, input_dim, [width] * depth,
                               num_classes)
  settings = train.TrainSettings(optimizer='adam', schedule='constant')
  tx_fn = functools.partial(train.make_optimizer, settings, total_steps=1)
  step_def = train.make_step_def(
      nnx.eval_shape(lambda: model_fn(rngs=nnx.Rngs(0))),
      tasks.get_task('classification'), 'pixels', tx_fn)
  seeds = jnp.arange(population)
  lrs = jnp.full((population,), 1e-3)
  states = jax.jit(jax.vmap(functools.partial(train.init_member, model_fn,
                                              step_def)))(seeds, lrs)
  rng = np.random.default_rng(0)
  images = jnp.asarray(rng.integers(0, 256, (population, batch, 28, 28, 1),
                                    dtype=np.uint8))
  labels = jnp.asarray(rng.integers(0, num_classes, (population, batch)),
                       jnp.int32)
  step = functools.partial(train.train_step, step_def)
  pop_step = jax.jit(jax.vmap(step))
  members = [jax.tree.map(lambda a: a[i], states) for i in range(population)]
  if shard:  # The population axis over every local device, as training does.
    sharding = jax.sharding.NamedSharding(train.population_mesh(),
                                          jax.sharding.PartitionSpec('pop'))
    states, images, labels, lrs = jax.device_put(
        (states, images, labels, lrs), sharding)
  one_step = jax.jit(step)

  def loop(members, images, labels, lrs):
    return [one_step(m, images[i], labels[i], lrs[i])
            for i, m in enumerate(members)]

  t_pop = timed(pop_step, states, images, labels, lrs)
  t_loop = timed(loop, members, images, labels, lrs)
  weights = params.mlp_param_count(input_dim, [width] * depth, num_classes,
                                   biases=False)
  flops = 6 * batch * weights * population
  return t_pop, t_loop, flops / t_pop / 1e9


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--widths', default='64,256,512,1024')
  parser.add_argument('--depth', type=int, default=3)
  parser.add_argument('--population', type=int, default=8)
  parser.add_argument('--batch', type=int, default=256)
  parser.add_argument('--shard', action='store_true',
                      help='shard the population over all local devices')
  args = parser.parse_args()
  peak = matmul_peak_gflops()
  print(f'backend {jax.default_backend()}, {jax.local_device_count()} '
        f'device(s); float32 matmul peak (2048^3 dot): {peak:.1f} GFLOP/s')
  print(f'population P={args.population}, depth {args.depth}, batch '
        f'{args.batch}/member, Adam; step = forward + backward + update; '
        f'population {"sharded" if args.shard else "on one device"}')
  print('| width | vmapped step ms | Python loop ms | loop / vmapped | '
        'GFLOP/s | fraction of matmul peak |')
  print('|---|---|---|---|---|---|')
  for width in [int(w) for w in args.widths.split(',')]:
    t_pop, t_loop, gflops = bench_width(width, depth=args.depth,
                                        population=args.population,
                                        batch=args.batch, shard=args.shard)
    print(f'| {width} | {1e3 * t_pop:.2f} | {1e3 * t_loop:.2f} | '
          f'{t_loop / t_pop:.2f}x | {gflops:.1f} | {gflops / peak:.2f} |',
          flush=True)


if __name__ == '__main__':
  main()
