"""Layers pull look-alike classes apart (the lecture's MNIST 4 vs 9, after
Mohamed, Hinton & Penn 2012's layer-by-layer pictures).

A deep MLP and two one-hidden-layer nets, one with the deep net's parameter
count and one with its width, train on the whole task (all classes, picked
on validation as usual). Then, for every layer from the input to the last
hidden one, classes are measured in that layer's activations:

  * the pair: a linear probe (logistic regression on the pair, fitted on
    the training split's activations and scored on the test split's) and
    the Fisher ratio of the pair's test activations in the layer's top
    `fisher_components` principal directions (`probes.principal_projection`,
    fitted on the training activations: every layer is measured in the
    same number of dimensions, so width does not dilute it);
  * all pairs: one probe over every class, each test example judged
    against each other class by the probe's two scores (45 pairs of 10
    classes), and the same Fisher ratio averaged over the pairs;
  * 2-D PCA and t-SNE pictures of the pair's test activations (seed 0).

The pair is the config's (4 vs 9 on digits and MNIST) or, when it is empty,
the pair the deep net confuses most on validation (MNIST-1D). The lecture
claims that separability rises with depth; the report says whether it did
(`report.py`).

Files: trials.jsonl, results.json, results.md, separation.png,
projections.png.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from deepvsshallow import models, params, probes, runner
from deepvsshallow.studies.separation import report


def _pair_examples(split, pair):
  """The pair's examples of a split, labels 0 (pair[0]) and 1 (pair[1])."""
  keep = np.isin(split.targets, pair)
  return split.inputs[keep], (split.targets[keep] == pair[1]).astype(np.int32)


def measure(model, train, test, pair, config, convention) -> list[dict]:
  """Every layer's measures (report.Layer's, one seed) of one trained net:
  for each layer, a dict of the pair's probe (right or wrong on each of the
  pair's test examples) and Fisher ratio, and all pairs' probe (each test
  example's accuracy against the other classes) and mean Fisher ratio."""
  classes = np.unique(train.targets)
  in_pair = np.isin(test.targets, pair)
  pair_y = (test.targets[in_pair] == pair[1]).astype(np.int32)
  train_in_pair = np.isin(train.targets, pair)
  train_y = (train.targets[train_in_pair] == pair[1]).astype(np.int32)
  out = []
  for a, b in zip(probes.layer_features(model, train.inputs, convention),
                  probes.layer_features(model, test.inputs, convention)):
    # One projection per layer; the pair's ratio and all 45 are taken in it.
    z = probes.principal_projection(a, b, config.fisher_components)
    every = probes.linear_probe(a, train.targets, b, test.targets,
                                l2=config.probe_l2)
    fishers = [probes.fisher_ratio(z[np.isin(test.targets, (i, j))],
                                   test.targets[np.isin(test.targets, (i, j))])
               for i, j in itertools.combinations(classes, 2)]
    out.append({
        'probe': probes.linear_probe(a[train_in_pair], train_y, b[in_pair],
                                     pair_y, l2=config.probe_l2)[
                                         'test_correct'],
        'fisher': probes.fisher_ratio(z[in_pair], pair_y),
        'all_pairs_probe': np.nanmean(probes.pairwise_correct(
            every['test_scores'], test.targets), axis=1),
        'all_pairs_fisher': float(np.mean(fishers))})
  return out


def run(run: runner.Run) -> dict:
  config = run.config
  ds = run.load_dataset()
  deep = tuple(config.deep_hidden)
  shallow = (params.shallow_match(ds.input_dim, deep, ds.num_classes,
                                  biases=True).width,)
  nets = (('deep', deep), ('shallow', shallow), ('narrow', (deep[-1],)))
  populations = [
      runner.Population(
          f'{family} {"x".join(map(str, hidden))}',
          functools.partial(models.MLP, ds.input_dim, hidden,
                            ds.num_classes, activation=config.activation),
          ds, info={'family': family, 'hidden_widths': list(hidden)})
      for family, hidden in nets]
  picked = run.train_all(populations)
  if any(p.pick is None for p in picked):
    raise RuntimeError('every candidate of a net diverged; see trials.jsonl'
                       ' and lower config.learning_rates.')
  # The pair: the config's, or the deep net's most-confused on validation.
  pair = tuple(int(c) for c in config.pair)
  confusion = None
  if not pair:
    confusion = sum(
        probes.confusion_matrix(
            probes.predict(picked[0].member(i), ds.validation.inputs,
                           ds.input_convention), ds.validation.targets,
            ds.num_classes)
        for i in range(len(picked[0].pick.members)))
    pair = probes.most_confused_pair(confusion)
  run.log(f'Pair: {pair[0]} vs {pair[1]}'
          + ('' if config.pair else ' (most confused on validation)'))
  test = run.read_test(ds)
  train_y = _pair_examples(ds.train, pair)[1]
  test_x, test_y = _pair_examples(test, pair)
  run.log(f'Measuring {len(picked)} nets x {config.num_seeds} seeds, layer '
          'by layer (a probe over every class per layer)...')
  rng = np.random.default_rng(0)
  shown = np.sort(rng.permutation(len(test_y))[:config.projection_points])
  rows, nets, projections = [], [], []
  for p in picked:
    family = p.info['family']
    nets.append(report.Net(family=family,
                           hidden_widths=tuple(p.info['hidden_widths']),
                           param_count=p.info['param_count'],
                           scores=run.scores(p, test)))
    per_seed = []   # [seed][layer] -> `measure`'s dict
    for i in range(len(p.pick.members)):
      model = p.member(i)
      per_seed.append(measure(model, ds.train, test, pair, config,
                              ds.input_convention))
      if i == 0:
        te = probes.layer_features(model, test_x, ds.input_convention)
        for layer, b in enumerate(te):
          for method in config.projections:
            projections.append(report.Projection(
                family=family, layer=layer, method=method,
                points=tuple(map(tuple, np.round(
                    probes.project_2d(b[shown], method), 3).tolist()))))
    widths = [ds.input_dim, *p.info['hidden_widths']]
    for layer, width in enumerate(widths):
      seeds = [s[layer] for s in per_seed]
      examples = lambda key: np.stack([s[key] for s in seeds]).astype(float)
      rows.append(report.Layer(
          family=family, layer=layer, width=width,
          probe_accuracy_per_seed=tuple(float(s['probe'].mean())
                                        for s in seeds),
          fisher_per_seed=tuple(float(s['fisher']) for s in seeds),
          probe_examples=runner.encode_examples(examples('probe')),
          all_pairs_probe_per_seed=tuple(float(s['all_pairs_probe'].mean())
                                         for s in seeds),
          all_pairs_fisher_per_seed=tuple(s['all_pairs_fisher']
                                          for s in seeds),
          all_pairs_examples=runner.encode_examples(
              examples('all_pairs_probe'))))
  return run.finish(
      {'pair': list(pair), 'pair_from': 'config' if config.pair else
       'validation', 'confusion_validation': None if confusion is None
       else confusion.tolist(),
       'pair_examples': {'train': len(train_y), 'test': len(test_y)},
       'nets': nets, 'rows': rows, 'projection_labels':
       test_y[shown].tolist(), 'projections': projections},
      render=report.render_markdown,
      figures={'separation.png': report.plot_scores,
               'projections.png': report.plot_projections},
      console=report.console)
