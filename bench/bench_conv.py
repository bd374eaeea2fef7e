r"""Convolutional training steps: patches-times-kernel (ours) vs XLA's convolution.

  python bench/bench_conv.py                       # the studies' conv nets
  python bench/bench_conv.py --population=9 --repeats=20

The peer is the same model with `flax.nnx.Conv` and `nnx.max_pool` (XLA's
convolution and reduce_window), with the same parameters, in the same run.
Each is timed as one jitted population step (train.train_step: forward,
backward, Adam), members vmapped and members in turn (lax.map, the engine's
choice for conv nets on CPU), on one device. Models, as the studies train
them on their defaults:
  * stn:  models.CNN (16, 32) on the R (12x12) and RTS (18x18) canvases of the
          margin-padded 8x8 digits, batch 64;
  * weight_sharing: models.CNN1D (25, 25, 25), kernels (5, 3, 3), strides 2,
          on MNIST-1D's length 40, batch 100.
"""

import argparse
import functools
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from bench_population import timed
from deepvsshallow import models, tasks, train

CASES = {
    'stn CNN, R 12x12': (functools.partial(
        models.CNN, (12, 12, 1), 10, channels=(16, 32)), (12, 12, 1), 64),
    'stn CNN, RTS 18x18': (functools.partial(
        models.CNN, (18, 18, 1), 10, channels=(16, 32)), (18, 18, 1), 64),
    'weight_sharing CNN1D, 40': (functools.partial(
        models.CNN1D, 40, 10), (40,), 100),
}


class _XlaCNN(models.CNN):
  """The peer: the same CNN through nnx.Conv and nnx.max_pool."""

  def __call__(self, images_NHWC):
    x = images_NHWC
    for conv in (self.conv1, self.conv2):
      x = nnx.max_pool(jax.nn.relu(nnx.Conv.__call__(conv, x)), (2, 2),
                       (2, 2), padding='SAME')
    return self.head(x.reshape(x.shape[0], -1))


class _XlaCNN1D(models.CNN1D):

  def __call__(self, x):
    x = models._positions(x)  # pylint: disable=protected-access
    for conv in self.convs:
      x = jax.nn.relu(nnx.Conv.__call__(conv, x))
    return self.head(x.reshape(x.shape[0], -1))


def _peer(model_fn):
  cls = {models.CNN: _XlaCNN, models.CNN1D: _XlaCNN1D}[model_fn.func]
  return functools.partial(cls, *model_fn.args, **model_fn.keywords)


def step_seconds(model_fn, input_shape, batch, *, population, mode, repeats):
  settings = train.TrainSettings(optimizer='adam', schedule='constant')
  tx_fn = functools.partial(train.make_optimizer, settings, total_steps=1)
  step_def = train.make_step_def(
      nnx.eval_shape(lambda: model_fn(rngs=nnx.Rngs(0))),
      tasks.get_task('classification'), 'float', tx_fn)
  states = jax.jit(jax.vmap(functools.partial(
      train.init_member, model_fn, step_def)))(
          jnp.arange(population), jnp.full((population,), 1e-3))
  rng = np.random.default_rng(0)
  inputs = jnp.asarray(rng.normal(size=(batch, *input_shape)), jnp.float32)
  labels = jnp.asarray(rng.integers(0, 10, batch), jnp.int32)
  lrs = jnp.full((population,), 1e-3)
  step = functools.partial(train.train_step, step_def)
  fn = jax.jit(train.over_members(
      lambda s, lr, x, y: step(s, x, y, lr), 2, mode, 1))
  return timed(fn, states, lrs, inputs, labels, repeats=repeats), fn(
      states, lrs, inputs, labels)[1]


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--population', type=int, default=6)
  parser.add_argument('--repeats', type=int, default=10)
  args = parser.parse_args()
  print(f'backend {jax.default_backend()}, one device; population '
        f'{args.population}; one step = forward + backward + Adam')
  print('| model | members | XLA conv ms | ours ms | ours / XLA | '
        'first losses agree |')
  print('|---|---|---|---|---|---|')
  for name, (model_fn, shape, batch) in CASES.items():
    for mode in ('map', 'vmap'):
      run = functools.partial(step_seconds, population=args.population,
                              mode=mode, repeats=args.repeats)
      t_xla, loss_xla = run(_peer(model_fn), shape, batch)
      t_ours, loss_ours = run(model_fn, shape, batch)
      agree = np.allclose(loss_xla, loss_ours, rtol=1e-5, atol=1e-6)
      print(f'| {name} | {mode} | {1e3 * t_xla:.1f} | {1e3 * t_ours:.1f} | '
            f'{t_ours / t_xla:.2f}x | {agree} |', flush=True)


if __name__ == '__main__':
  main()
