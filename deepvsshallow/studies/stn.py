"""Spatial transformers on distorted digits (Jaderberg et al. 2015, Table 1).

`train_and_evaluate(config, workdir)` distorts a registered dataset (R and
RTS, see `distortions`), trains FCN, CNN, ST-FCN and ST-CNN at about equal
parameter counts (learning rate picked on validation, seeds as replicates),
reads test once for the picked models, and writes:

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

from deepvsshallow import config as config_lib
from deepvsshallow import data as data_lib
from deepvsshallow import distortions, models, params, reference, report
from deepvsshallow import runner, tasks, train
from deepvsshallow.errors import UsageError

# The paper's names for the models of Table 1, and their registry keys.
MODEL_KEYS = {'FCN': 'fcn', 'CNN': 'cnn', 'ST-FCN': 'st_fcn',
              'ST-CNN': 'st_cnn'}
MODEL_NAMES = tuple(MODEL_KEYS)
NEAREST = 'ST-FCN (nearest)'
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
    raise UsageError(f'the localisation net ({loc} parameters) leaves no room '
                     f'for an ST-FCN classifier in the CNN budget ({budget}); '
                     'lower config.loc_hidden or raise config.cnn_channels.')
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


def check_config(config, problems: config_lib.Problems) -> None:
  """This study's fields, one line per problem (the runner checks the rest)."""
  if not config.distortions:
    problems.add('config.distortions must name at least one of '
                 f'{", ".join(distortions.KINDS)}.')
  unknown = sorted(set(config.models) - set(MODEL_NAMES))
  if unknown or not config.models:
    problems.add(f'config.models must be a non-empty subset of '
                 f'{", ".join(MODEL_NAMES)}; unknown: {unknown}.')
  config_lib.int_list(problems, 'cnn_channels', config.cnn_channels)
  config_lib.int_list(problems, 'loc_channels', config.loc_channels)
  if len(config.cnn_channels) != 2 or len(config.loc_channels) != 2:
    problems.add('config.cnn_channels and config.loc_channels each need two '
                 f'channel counts, got {tuple(config.cnn_channels)} and '
                 f'{tuple(config.loc_channels)}.')
  config_lib.int_field(problems, config, 'loc_hidden', at_least=1)
  config_lib.int_field(problems, config, 'margin', at_least=0)
  config_lib.int_field(problems, config, 'distortion_seed', at_least=0)
  config_lib.one_of(problems, config, 'localisation', models.LOCALISATION_NETS)
  if not isinstance(config.nearest_demo, bool):
    problems.add(f'config.nearest_demo must be True or False, got '
                 f'{config.nearest_demo!r}.')
  spec = problems.attempt(data_lib.get_spec, config.dataset)
  if spec is None:
    return
  kinds = [problems.attempt(distortions.spec_for, kind, spec.input_shape[:2],
                            margin=max(config.margin, 0))
           for kind in config.distortions]
  if problems:
    return
  side = spec.input_shape[0] + 2 * config.margin
  for kind in kinds:  # Every budget fits, before any training.
    problems.attempt(build_models, config,
                     (kind.canvas, kind.canvas, spec.input_shape[2]),
                     spec.num_classes, side)


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


def train_and_evaluate(config, workdir: str) -> dict:
  with runner.Run('stn', config, workdir, check=check_config) as run:
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
    rows = []
    for kind, name, count, p in runs:
      row = {'distortion': kind, 'model': name, 'param_count': count,
             **run.test_summary(p, tests[kind])}
      if name.startswith('ST-') and p.pick is not None:
        row['theta_shift_from_identity'] = _theta_shift(
            p, tests[kind], distorted[kind].input_convention)
      if (kind, name) in grad_norms:
        row['loc_grad_norm_at_init'] = grad_norms[(kind, name)]
      rows.append(row)

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
        results, render=render_markdown,
        figures={'rectification.png': lambda summary, path:
                 plot_rectification(runs, tests, distorted, path)},
        console=lambda s: (results_table(s['rows'], config.distortions)
                           + '\n\n' + nearest_note(s['rows'])))


def _paper() -> dict:
  rows = reference.load_csv('stn2015_distorted_mnist.csv')
  keep = {('FCN', 'none'), ('CNN', 'none'), ('ST-FCN', 'affine'),
          ('ST-CNN', 'affine')}
  return {r['model']: r for r in rows if (r['model'], r['transform']) in keep}


def results_table(rows, kinds) -> str:
  paper = _paper()
  by = {(r['distortion'], r['model']): r for r in rows}
  names = list(dict.fromkeys(r['model'] for r in rows))
  header = ['model', f'params ({" / ".join(kinds)})'] + [f'{k} test err % (ours)' for k in kinds] + [
      f'{k} paper %' for k in kinds]
  out = []
  for name in names:
    cells = [name, ' / '.join(f'{by[(k, name)]["param_count"]:,}'
                              if (k, name) in by else '-' for k in kinds)]
    for k in kinds:
      r = by.get((k, name))
      cells.append('' if r is None else 'diverged' if r['status'] != 'done'
                   else report.pct(r['test_error_mean'], r['test_error_std']))
    base = name.split(' ')[0]
    cells += [paper[base][k] if base in paper and name == base else ''
              for k in kinds]
    out.append(cells)
  return report.markdown_table(header, out)


def nearest_note(rows) -> str:
  by = {r['model']: r for r in rows if r['distortion'] == 'RTS'} or {
      r['model']: r for r in rows}
  b, n = by.get('ST-FCN'), by.get(NEAREST)
  if not b or not n or b['status'] != 'done' or n['status'] != 'done':
    return ''
  return (
      f'Sampling and gradients ({b["distortion"]}): at initialisation the '
      f'loss gradient reaching the localisation net has norm '
      f'{b["loc_grad_norm_at_init"]:.3g} with bilinear sampling and '
      f'{n["loc_grad_norm_at_init"]:.3g} with nearest-pixel rounding. After '
      f'training, theta moved {b["theta_shift_from_identity"]:.3f} (mean '
      f'|theta - identity|) with bilinear and '
      f'{n["theta_shift_from_identity"]:.3f} with nearest; test error '
      f'{report.pct(b["test_error_mean"], b["test_error_std"])}% vs '
      f'{report.pct(n["test_error_mean"], n["test_error_std"])}%.')


def render_markdown(summary) -> str:
  ds, cfg = summary['dataset'], summary['config']
  kinds = cfg['distortions']
  lines = [
      '# Spatial transformers on distorted digits', '',
      f'Ours: {ds["name"]} (train {ds["train"]}, validation {ds["validation"]}, '
      f'test {ds["test"]}), each image padded by {cfg["margin"]} pixels, then '
      f'distorted: R rotates by up to ±90° on a {ds["canvas"].get("R", "-")}'
      f'-pixel canvas; RTS rotates by up to ±45°, scales by 0.7-1.2 and places '
      f'the digit at random on a {ds["canvas"].get("RTS", "-")}-pixel canvas. '
      f'Transformers resample to {ds["st_output"]}x{ds["st_output"]}. Mean ± '
      f'std over {cfg["num_seeds"]} seeds; learning rate picked on validation.',
      '',
      'The paper: MNIST (60,000 training images of 28x28, canvas 42x42 for '
      'RTS), its own training schedule, and affine transformers; its numbers '
      'are copied from Jaderberg et al. 2015, Table 1 '
      '(deepvsshallow/reference/stn2015_distorted_mnist.csv). The datasets '
      'differ, so compare the ordering of the models, not the numbers.', '',
      results_table(summary['rows'], kinds), '',
      nearest_note(summary['rows']), '',
      report.run_footer(summary), '']
  return '\n'.join(lines)


def plot_rectification(runs, tests, distorted, path: str, n: int = 10) -> None:
  """Rows: test inputs, then what each picked ST model made of them."""
  plt = report.pyplot()
  panels = []
  for kind, name, _, p in runs:
    if not name.startswith('ST-') or p.pick is None:
      continue
    inputs = data_lib.prepare_inputs(tests[kind].inputs[:n],
                                     distorted[kind].input_convention)
    if not any(k == kind for k, _, _ in panels):
      panels.append((kind, f'{kind} input', inputs[..., 0]))
    out = p.member(0).transformer(jnp.asarray(inputs))
    panels.append((kind, f'{name}', np.asarray(out)[..., 0]))
  if not panels:
    return
  fig, axes = plt.subplots(len(panels), n, figsize=(n * 0.9, len(panels) * 1.0),
                           squeeze=False)
  for row, (_, label, imgs) in zip(axes, panels):
    for j, ax in enumerate(row):
      ax.imshow(imgs[j], cmap='gray', vmin=0, vmax=1)
      ax.set_xticks([])
      ax.set_yticks([])
    row[0].set_ylabel(label, rotation=0, ha='right', va='center', fontsize=8)
  fig.suptitle('Test inputs and what the trained transformers made of them')
  report.save_figure(fig, path)
  plt.close(fig)


def headline(summary) -> str:
  """The claim's verdict in one line (the lecture report's)."""
  by = {(r['distortion'], r['model']): r for r in summary['rows']
        if r['status'] == 'done'}
  parts = []
  for kind in summary['config']['distortions']:
    for plain, st in (('FCN', 'ST-FCN'), ('CNN', 'ST-CNN')):
      if (kind, plain) in by and (kind, st) in by:
        a, b = by[(kind, plain)], by[(kind, st)]
        parts.append(f'{kind}: {st} {100 * b["test_error_mean"]:.2f}% vs '
                     f'{plain} {100 * a["test_error_mean"]:.2f}%')
  return 'Test error ' + '; '.join(parts) + '.'
