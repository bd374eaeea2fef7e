"""Layers pull look-alike classes apart (the lecture's MNIST 4 vs 9, after
Mohamed, Hinton & Penn 2012's layer-by-layer pictures).

A deep MLP and its parameter-matched one-hidden-layer net train on the whole
task (all classes, picked on validation as usual). Then, for every layer
from the input to the last hidden one, two look-alike classes are measured
in that layer's activations:

  * a linear probe: logistic regression on the pair, fitted on the training
    split's activations and scored on the test split's;
  * the Fisher ratio tr(S_B) / tr(S_W) of the pair's test activations;
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

import numpy as np

from deepvsshallow import models, params, probes, runner
from deepvsshallow.studies.separation import report


def _pair_examples(split, pair):
  """The pair's examples of a split, labels 0 (pair[0]) and 1 (pair[1])."""
  keep = np.isin(split.targets, pair)
  return split.inputs[keep], (split.targets[keep] == pair[1]).astype(np.int32)


def run(run: runner.Run) -> dict:
  config = run.config
  ds = run.load_dataset()
  deep = tuple(config.deep_hidden)
  shallow = (params.shallow_match(ds.input_dim, deep, ds.num_classes,
                                  biases=True).width,)
  populations = [
      runner.Population(
          f'{family} {"x".join(map(str, hidden))}',
          functools.partial(models.MLP, ds.input_dim, hidden,
                            ds.num_classes, activation=config.activation),
          ds, info={'family': family, 'hidden_widths': list(hidden)})
      for family, hidden in (('deep', deep), ('shallow', shallow))]
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
  train_x, train_y = _pair_examples(ds.train, pair)
  test_x, test_y = _pair_examples(test, pair)
  rng = np.random.default_rng(0)
  shown = np.sort(rng.permutation(len(test_y))[:config.projection_points])
  rows, nets, projections = [], [], []
  for p in picked:
    family = p.info['family']
    nets.append(report.Net(family=family,
                           hidden_widths=tuple(p.info['hidden_widths']),
                           param_count=p.info['param_count'],
                           scores=run.scores(p, test)))
    per_seed = []   # [seed][layer] -> (probe's test_correct, fisher ratio)
    for i in range(len(p.pick.members)):
      model = p.member(i)
      tr = probes.layer_features(model, train_x, ds.input_convention)
      te = probes.layer_features(model, test_x, ds.input_convention)
      per_seed.append([
          (probes.linear_probe(a, train_y, b, test_y,
                               l2=config.probe_l2)['test_correct'],
           probes.fisher_ratio(b, test_y)) for a, b in zip(tr, te)])
      if i == 0:
        for layer, b in enumerate(te):
          for method in config.projections:
            projections.append(report.Projection(
                family=family, layer=layer, method=method,
                points=tuple(map(tuple, np.round(
                    probes.project_2d(b[shown], method), 3).tolist()))))
    widths = [ds.input_dim, *p.info['hidden_widths']]
    for layer, width in enumerate(widths):
      rows.append(report.Layer(
          family=family, layer=layer, width=width,
          probe_accuracy_per_seed=tuple(float(s[layer][0].mean())
                                        for s in per_seed),
          fisher_per_seed=tuple(float(s[layer][1]) for s in per_seed),
          probe_examples=runner.encode_examples(
              np.stack([s[layer][0] for s in per_seed]).astype(float))))
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
