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
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from deepvsshallow import data as data_lib
from deepvsshallow import distortions, models, params, reference, report
from deepvsshallow import train, trials, validate
from deepvsshallow.errors import UsageError

MODEL_NAMES = ('FCN', 'CNN', 'ST-FCN', 'ST-CNN')
NEAREST = 'ST-FCN (nearest)'


def _count(model_fn) -> int:
  return params.count_params(nnx.state(
      nnx.eval_shape(lambda: model_fn(rngs=nnx.Rngs(0))), nnx.Param))


def build_models(config, image_shape, num_classes: int, st_side: int) -> dict:
  """{name: (model_fn, param count)}, FCNs sized to the CNN's count.

  The budget is the CNN's parameter count on this canvas. The FCN gets the
  widest two-hidden-layer net within it. The ST models' classifiers get the
  budget less the localisation net: the ST-FCN the widest net within it, the
  ST-CNN the channel counts (scaled together) whose count is nearest.
  """
  c = image_shape[2]
  out_hw = (st_side, st_side)
  cnn = functools.partial(models.CNN, image_shape, num_classes,
                          channels=tuple(config.cnn_channels))
  budget = _count(cnn)
  st_kwargs = dict(localisation=config.localisation,
                   loc_hidden=config.loc_hidden, output_hw=out_hw)
  loc = _count(functools.partial(
      models.SpatialTransformer, image_shape, output_hw=out_hw,
      localisation=config.localisation, hidden=config.loc_hidden))
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
      'FCN': functools.partial(models.fcn, image_shape, num_classes,
                               width=fcn_width),
      'CNN': cnn,
      'ST-FCN': functools.partial(models.st_fcn, image_shape, num_classes,
                                  width=st_fcn_width, **st_kwargs),
      'ST-CNN': functools.partial(models.st_cnn, image_shape, num_classes,
                                  channels=st_channels, **st_kwargs),
      NEAREST: functools.partial(models.st_fcn, image_shape, num_classes,
                                 width=st_fcn_width, sampler='nearest',
                                 **st_kwargs),
  }
  return {name: (fn, _count(fn)) for name, fn in fns.items()}


def validate_config(config) -> data_lib.DatasetSpec:
  spec = data_lib.get_spec(config.dataset)
  validate.training(config)
  for kind in config.distortions:
    distortions.spec_for(kind, spec.image_shape[:2], margin=config.margin)
  if not config.distortions:
    raise UsageError('config.distortions must name at least one of R, RTS.')
  unknown = set(config.models) - set(MODEL_NAMES)
  if unknown or not config.models:
    raise UsageError(f'config.models must be a non-empty subset of '
                     f'{", ".join(MODEL_NAMES)}; unknown: {sorted(unknown)}.')
  validate.positive_ints('cnn_channels', config.cnn_channels)
  validate.positive_ints('loc_hidden', [config.loc_hidden])
  if config.margin < 0:
    raise UsageError(f'config.margin must be >= 0, got {config.margin}.')
  if config.localisation not in ('mlp', 'cnn'):
    raise UsageError(f'config.localisation must be mlp or cnn, got '
                     f'{config.localisation!r}.')
  validate.non_negative_int('distortion_seed', config.distortion_seed)
  side = spec.image_shape[0] + 2 * config.margin
  for kind in config.distortions:  # Every budget fits, before any training.
    canvas = distortions.spec_for(kind, spec.image_shape[:2],
                                  margin=config.margin).canvas
    build_models(config, (canvas, canvas, spec.image_shape[2]),
                 spec.num_classes, side)
  return spec


def _transformer_grad_norm(model_fn, dataset, seed: int, n: int = 256):
  """|d loss / d localisation-net parameters| at initialisation."""
  model = model_fn(rngs=nnx.Rngs(params=train.member_key(seed, 0)))
  graphdef, state = nnx.split(model, nnx.Param)
  images = jnp.asarray(dataset.train.images[:n])
  labels = jnp.asarray(dataset.train.labels[:n])
  grads = jax.grad(lambda p: train.loss_and_logits(graphdef, p, images,
                                                   labels)[0])(state)
  leaves = jax.tree.leaves(grads['transformer'])
  return float(jnp.sqrt(sum(jnp.sum(g ** 2) for g in leaves)))


def _member(picked: trials.Picked, i: int):
  return nnx.merge(picked.graphdef,
                   jax.tree.map(lambda a: a[i], picked.params))


def _theta_shift(picked: trials.Picked, images) -> float:
  """Mean |theta - identity| of the picked seed-0 transformer."""
  model = _member(picked, 0)
  theta = model.transformer.affine(train.images_to_float(jnp.asarray(images)))
  identity = jnp.asarray(models.IDENTITY_THETA).reshape(2, 3)
  return float(jnp.mean(jnp.abs(theta - identity)))


def train_and_evaluate(config, workdir: str) -> dict:
  t0 = time.time()
  spec = validate_config(config)
  workdir = report.ensure_writable_dir(workdir)
  base = data_lib.load_dataset(config.dataset,
                               data_dir=config.data_dir or None,
                               val_fraction=config.val_fraction,
                               split_seed=config.split_seed)
  validate.fits_data(config, base)
  st_side = spec.image_shape[0] + 2 * config.margin
  member_seeds, member_lrs = trials.grid(config.learning_rates,
                                         config.num_seeds)
  settings = validate.train_settings(config)
  cache = os.path.join(config.data_dir or data_lib.default_data_dir(),
                       'deepvsshallow_distorted')
  names = list(config.models) + ([NEAREST] if config.nearest_demo else [])
  print(f'stn: {base.name} distorted {"/".join(config.distortions)}, models '
        f'{", ".join(names)} x {len(config.learning_rates)} learning rates x '
        f'{config.num_seeds} seeds on {jax.local_device_count()} '
        f'{jax.default_backend()} device(s); writing to {workdir}',
        flush=True)
  os.makedirs(workdir, exist_ok=True)
  trial_config = {k: config[k] for k in (
      'dataset', 'margin', 'distortion_seed', 'optimizer', 'schedule',
      'batch_size', 'num_epochs', 'localisation', 'loc_hidden')}
  runs, distorted, grad_norms = [], {}, {}
  with open(os.path.join(workdir, 'trials.jsonl'), 'w') as trials_file:
    for kind in config.distortions:
      ds = distortions.distorted_dataset(base, kind,
                                         seed=config.distortion_seed,
                                         margin=config.margin,
                                         cache_dir=cache)
      distorted[kind] = ds
      built = build_models(config, ds.image_shape, ds.num_classes, st_side)
      kind_names = [n for n in names if n != NEAREST or kind == 'RTS'
                    or 'RTS' not in config.distortions]
      for name in kind_names:
        fn, count = built[name]
        p = trials.train_and_pick(
            f'{kind}/{name}', fn, ds, member_seeds, member_lrs, settings,
            info={'distortion': kind, 'model': name, 'param_count': count},
            trial_config=trial_config, trials_file=trials_file,
            desc=f'{kind} {name} ({count:,} params)')
        runs.append((kind, name, count, p))
        if name in ('ST-FCN', NEAREST):
          grad_norms[(kind, name)] = _transformer_grad_norm(fn, ds, 0)

  # Test is read here, once per distortion, for the picked models only.
  tests = {kind: ds.test() for kind, ds in distorted.items()}
  rows = []
  for kind, name, count, p in runs:
    row = {'distortion': kind, 'model': name, 'param_count': count,
           **trials.test_summary(p, tests[kind], chunk=config.eval_batch_size,
                                 num_candidates=len(config.learning_rates))}
    if name.startswith('ST-') and p.pick is not None:
      row['theta_shift_from_identity'] = _theta_shift(p, tests[kind].images)
    if (kind, name) in grad_norms:
      row['loc_grad_norm_at_init'] = grad_norms[(kind, name)]
    rows.append(row)

  summary = {
      'experiment': 'stn', 'config': config.to_dict(),
      'dataset': {'name': base.name, 'train': len(base.train),
                  'validation': len(base.validation),
                  'test': len(next(iter(tests.values()))),
                  'st_output': st_side,
                  'canvas': {k: ds.image_shape[0]
                             for k, ds in distorted.items()}},
      'rows': rows, 'runtime_s': round(time.time() - t0, 1),
      'platform': {'backend': jax.default_backend(),
                   'devices': jax.local_device_count(),
                   'jax': jax.__version__},
  }
  markdown = render_markdown(summary)
  report.write_json(os.path.join(workdir, 'results.json'), summary)
  report.atomic_write(os.path.join(workdir, 'results.md'), markdown)
  plot_rectification(runs, tests, os.path.join(workdir, 'rectification.png'))
  print('\n' + results_table(rows, config.distortions) + '\n\n'
        + nearest_note(rows) + '\n')
  print(f'Wrote trials.jsonl, results.json, results.md and rectification.png '
        f'in {workdir} ({summary["runtime_s"]:.0f}s).', flush=True)
  return summary


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
      f'Runtime {summary["runtime_s"]:.0f}s on '
      f'{summary["platform"]["devices"]} {summary["platform"]["backend"]} '
      f'device(s).', '']
  return '\n'.join(lines)


def plot_rectification(runs, tests, path: str, n: int = 10) -> None:
  """Rows: test inputs, then what each picked ST model made of them."""
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  panels = []
  for kind, name, _, p in runs:
    if not name.startswith('ST-') or p.pick is None:
      continue
    images = tests[kind].images[:n]
    if not any(k == kind for k, _, _ in panels):
      panels.append((kind, f'{kind} input', images[..., 0] / 255.0))
    model = _member(p, 0)
    out = model.transformer(train.images_to_float(jnp.asarray(images)))
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
