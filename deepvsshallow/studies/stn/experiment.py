"""Spatial transformers on distorted digits (Jaderberg et al. 2015, Table 1).

`run(run)` distorts a registered dataset (R and RTS, see `distortions`),
trains FCN, CNN, ST-FCN and ST-CNN at about equal parameter counts
(learning rate picked on validation, seeds as replicates), reads test once
for the picked models, and writes (`report.py`):

  trials.jsonl        one record per trial
  results.json        per (distortion, model) summary and the sampler demo
  results.md          the table beside the paper's Table 1, stated differences
  rectification.png   test inputs next to what the transformer made of them

It also runs the lecture's point about sampling: an ST-FCN whose sampler
rounds to the nearest pixel gets exactly zero gradient into its localisation
net, so the net never moves from the identity; with bilinear sampling it does.
"""

from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from deepvsshallow import data as data_lib
from deepvsshallow import distortions, models, params, runner, tasks, train
from deepvsshallow.errors import UsageError
from deepvsshallow.studies.stn import report
from deepvsshallow.studies.stn.config import MODEL_KEYS, NEAREST

_count = params.model_param_count


def build_models(config, image_shape, num_classes: int, st_side: int) -> dict:
  """{name: (model_fn, param count)}, FCNs sized to the CNN's count.

  The budget is the CNN's parameter count on this canvas. The FCN gets the
  widest two-hidden-layer net within it. The ST models' classifiers get the
  budget less the localisation net: the ST-FCN the widest net within it, the
  ST-CNN the channel counts (scaled together) whose count is nearest.
  """
  c = image_shape[2]
  out_hw = (st_side, st_side)
  model = lambda name, **kw: functools.partial(
      models.get_model_cls(MODEL_KEYS[name]), image_shape, num_classes, **kw)
  cnn = model('CNN', channels=tuple(config.cnn_channels))
  budget = _count(cnn)
  st_kwargs = dict(localisation=config.localisation,
                   loc_hidden=config.loc_hidden,
                   loc_channels=tuple(config.loc_channels), output_hw=out_hw)
  loc = _count(functools.partial(
      models.SpatialTransformer, image_shape, output_hw=out_hw,
      localisation=config.localisation, hidden=config.loc_hidden,
      channels=tuple(config.loc_channels)))
  fcn_width = params.budget_width(int(np.prod(image_shape)), 2, num_classes,
                                  budget).width
  if budget - loc <= params.mlp_param_count(st_side * st_side * c, [1, 1],
                                            num_classes):
    raise UsageError(f'config.loc_hidden={config.loc_hidden}: the '
                     f'localisation net ({loc} parameters) leaves no room '
                     f'for an ST-FCN classifier in the CNN budget ({budget}) '
                     f'on a {image_shape[0]}x{image_shape[1]} canvas; lower '
                     'config.loc_hidden or raise config.cnn_channels.')
  st_fcn_width = params.budget_width(st_side * st_side * c, 2, num_classes,
                                     budget - loc).width
  st_channels = params.cnn_channels_for_budget(
      (st_side, st_side, c), config.cnn_channels, num_classes, budget - loc)
  fns = {
      'FCN': model('FCN', width=fcn_width),
      'CNN': cnn,
      'ST-FCN': model('ST-FCN', width=st_fcn_width, **st_kwargs),
      'ST-CNN': model('ST-CNN', channels=st_channels, **st_kwargs),
      NEAREST: model('ST-FCN', width=st_fcn_width, sampler='nearest',
                     **st_kwargs),
  }
  return {name: (fn, _count(fn)) for name, fn in fns.items()}


def _transformer_grad_norm(model_fn, dataset, seed: int, n: int = 256):
  """|d loss / d localisation-net parameters| at initialisation."""
  model = model_fn(rngs=nnx.Rngs(params=train.member_key(seed, 0)))
  graph, state, rest = nnx.split(model, nnx.Param, ...)
  task = tasks.get_task(dataset.task)
  inputs = jnp.asarray(dataset.train.inputs[:n])
  targets = jnp.asarray(dataset.train.targets[:n])

  def loss(p):
    outputs, _ = train.apply_model(graph, p, rest, dataset.input_convention,
                                   inputs)
    return task.loss(outputs, targets).mean()

  leaves = jax.tree.leaves(jax.grad(loss)(state)['transformer'])
  return float(jnp.sqrt(sum(jnp.sum(g ** 2) for g in leaves)))


def _theta_shift(picked: runner.Picked, split, convention: str) -> float:
  """Mean |theta - identity| of the picked seed-0 transformer."""
  model = picked.member(0)
  theta = model.transformer.affine(
      data_lib.prepare_inputs(jnp.asarray(split.inputs), convention))
  identity = jnp.asarray(models.IDENTITY_THETA).reshape(2, 3)
  return float(jnp.mean(jnp.abs(theta - identity)))


def run(run: runner.Run) -> dict:
  config = run.config
  base = run.load_dataset()
  st_side = base.input_shape[0] + 2 * config.margin
  cache = os.path.join(config.data_dir or data_lib.default_data_dir(),
                       'deepvsshallow_distorted')
  names = list(config.models) + ([NEAREST] if config.nearest_demo else [])
  run.log(f'stn: distorted {"/".join(config.distortions)}, models '
          f'{", ".join(names)}')
  distorted = {kind: distortions.distorted_dataset(
      base, kind, seed=config.distortion_seed, margin=config.margin,
      cache_dir=cache) for kind in config.distortions}
  populations, counts = [], []
  for kind, ds in distorted.items():
    built = build_models(config, ds.input_shape, ds.num_classes, st_side)
    for name in names:
      if name == NEAREST and kind != 'RTS' and 'RTS' in config.distortions:
        continue  # The sampling demo runs once, on RTS when there is RTS.
      fn, count = built[name]
      populations.append(runner.Population(
          f'{kind}/{name}', fn, ds, info={'distortion': kind,
                                          'model': name}))
      counts.append(count)
  picked = run.train_all(populations)
  runs = [(p.info['distortion'], p.info['model'], count, p)
          for p, count in zip(picked, counts)]
  grad_norms = {  # At initialisation: independent of the training above.
      (pop.info['distortion'], pop.info['model']): _transformer_grad_norm(
          pop.model_fn, pop.dataset, 0)
      for pop in populations if pop.info['model'] in ('ST-FCN', NEAREST)}

  tests = {kind: run.read_test(ds) for kind, ds in distorted.items()}
  rows = [report.Row(
      distortion=kind, model=name, param_count=count,
      scores=run.scores(p, tests[kind]),
      theta_shift_from_identity=_theta_shift(
          p, tests[kind], distorted[kind].input_convention)
      if name.startswith('ST-') and p.pick is not None else None,
      loc_grad_norm_at_init=grad_norms.get((kind, name)))
      for kind, name, count, p in runs]

  results = {
      'dataset': {'name': base.name, 'train': len(base.train),
                  'validation': len(base.validation),
                  'test': len(next(iter(tests.values()))),
                  'st_output': st_side,
                  'canvas': {k: ds.input_shape[0]
                             for k, ds in distorted.items()}},
      'rows': rows,
  }
  return run.finish(
      results, render=report.render_markdown,
      figures={'rectification.png': lambda summary, path:
               report.plot_rectification(runs, tests, distorted, path)},
      console=report.console)
