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
claims that separability rises with depth; the report says whether it did.

Files: trials.jsonl, results.json, results.md, separation.png,
projections.png.
"""

from __future__ import annotations

import functools

import numpy as np

from deepvsshallow import config as config_lib
from deepvsshallow import data as data_lib
from deepvsshallow import models, params, probes, report, runner, selection

FAMILIES = ('deep', 'shallow')


def check_config(config, problems: config_lib.Problems) -> None:
  config_lib.int_list(problems, 'deep_hidden', config.deep_hidden)
  if len(tuple(config.deep_hidden)) < 2:
    problems.add(f'config.deep_hidden needs at least 2 layers to be deep, '
                 f'got {tuple(config.deep_hidden)}.')
  pair = tuple(config.pair)
  spec = data_lib.DATASETS.get(config.dataset)
  if pair and spec is not None:
    k = spec.num_classes
    if (len(pair) != 2 or not all(config_lib.is_int(c, at_least=0)
                                  for c in pair)
        or max(pair) >= k or pair[0] == pair[1]):
      problems.add(f'config.pair={pair} is not two different class labels '
                   f'of {config.dataset} (0..{k - 1}); pass e.g. '
                   f'--config.pair="(4, 9)", or () for the most-confused pair.')
  if not config.probe_l2 > 0:
    problems.add(f'config.probe_l2 must be > 0, got {config.probe_l2}.')
  config_lib.int_field(problems, config, 'projection_points', at_least=10)
  for method in config.projections:
    if method not in probes.PROJECTIONS:
      problems.add(f'config.projections: unknown {method!r}; known: '
                   f'{", ".join(probes.PROJECTIONS)}.')


def _pair_examples(split, pair):
  """The pair's examples of a split, labels 0 (pair[0]) and 1 (pair[1])."""
  keep = np.isin(split.targets, pair)
  return split.inputs[keep], (split.targets[keep] == pair[1]).astype(np.int32)


def train_and_evaluate(config, workdir: str) -> dict:
  with runner.Run('separation', config, workdir, check=check_config) as run:
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
    rows, nets, projections = [], [], {}
    for p in picked:
      family = p.info['family']
      nets.append({**p.info, **run.test_summary(p, test)})
      per_seed = []   # [seed][layer] -> (probe accuracy, fisher ratio)
      for i in range(len(p.pick.members)):
        model = p.member(i)
        tr = probes.layer_features(model, train_x, ds.input_convention)
        te = probes.layer_features(model, test_x, ds.input_convention)
        per_seed.append([
            (probes.linear_probe(a, train_y, b, test_y,
                                 l2=config.probe_l2)['test_accuracy'],
             probes.fisher_ratio(b, test_y)) for a, b in zip(tr, te)])
        if i == 0:
          for layer, b in enumerate(te):
            for method in config.projections:
              projections[f'{family}/{layer}/{method}'] = np.round(
                  probes.project_2d(b[shown], method), 3).tolist()
      widths = [ds.input_dim, *p.info['hidden_widths']]
      for layer, width in enumerate(widths):
        acc = selection.mean_std([s[layer][0] for s in per_seed])
        fisher = selection.mean_std([s[layer][1] for s in per_seed])
        rows.append({'family': family, 'layer': layer, 'width': width,
                     'probe_accuracy_mean': acc[0],
                     'probe_accuracy_std': acc[1],
                     'fisher_mean': fisher[0], 'fisher_std': fisher[1]})
    return run.finish(
        {'pair': list(pair), 'pair_from': 'config' if config.pair else
         'validation', 'confusion_validation': None if confusion is None
         else confusion.tolist(),
         'pair_examples': {'train': len(train_y), 'test': len(test_y)},
         'nets': nets, 'rows': rows, 'projection_labels':
         test_y[shown].tolist(), 'projections': projections},
        render=render_markdown,
        figures={'separation.png': plot_scores,
                 'projections.png': plot_projections},
        console=lambda s: layer_table(s['rows']) + '\n\n' + verdict(s))


def layer_table(rows) -> str:
  return report.markdown_table(
      ['net', 'layer', 'width', 'probe accuracy %', 'Fisher ratio'],
      [[r['family'], 'input' if r['layer'] == 0 else f'hidden {r["layer"]}',
        r['width'], report.pct(r['probe_accuracy_mean'],
                               r['probe_accuracy_std']),
        f'{r["fisher_mean"]:.3f} ± {r["fisher_std"]:.3f}'] for r in rows])


def _trend(values) -> str:
  steps = np.diff(values)
  if np.all(steps > 0):
    return 'rises at every layer'
  if np.all(steps < 0):
    return 'falls at every layer'
  return 'does not rise at every layer'


def verdict(summary) -> str:
  rows = summary['rows']
  deep = [r for r in rows if r['family'] == 'deep']
  shallow = [r for r in rows if r['family'] == 'shallow']
  acc = [r['probe_accuracy_mean'] for r in deep]
  fisher = [r['fisher_mean'] for r in deep]
  said = [
      f'Deep net, input to last hidden layer: probe accuracy '
      f'{" → ".join(f"{100 * a:.1f}" for a in acc)}% ({_trend(acc)}); '
      f'Fisher ratio {" → ".join(f"{f:.2f}" for f in fisher)} '
      f'({_trend(fisher)}).',
      f'Last hidden layer, deep vs the matched shallow net: probe '
      f'{100 * deep[-1]["probe_accuracy_mean"]:.1f}% vs '
      f'{100 * shallow[-1]["probe_accuracy_mean"]:.1f}%, Fisher ratio '
      f'{deep[-1]["fisher_mean"]:.2f} vs {shallow[-1]["fisher_mean"]:.2f}.']
  # A rise counts when the last hidden layer is above the input by more than
  # its seeds' spread (the input's value has no spread).
  up = {'probe accuracy': acc[-1] - acc[0] > deep[-1]['probe_accuracy_std'],
        'Fisher ratio': fisher[-1] - fisher[0] > deep[-1]['fisher_std']}
  rose = [k for k, v in up.items() if v]
  if len(rose) == 2:
    word = 'supported: both measures rise from the input to the last layer'
    if not _trend(acc) == _trend(fisher) == 'rises at every layer':
      word += ', though not at every layer'
  elif rose:
    other = next(k for k in up if k not in rose)
    word = f'partly supported: the {rose[0]} rises, the {other} does not'
  else:
    word = 'not supported here: neither measure rises beyond the spread'
  if acc[0] >= 0.97:
    said.append(f'The pair is already linearly separable at the input '
                f'(probe {100 * acc[0]:.1f}%), so the probe has little room '
                'to rise.')
  said.append(f'The lecture\'s claim (separability rises with depth): '
              f'{word}.')
  return '\n'.join(f'- {s}' for s in said)


def render_markdown(summary) -> str:
  cfg = summary['config']
  a, b = summary['pair']
  nets = report.markdown_table(
      ['net', 'hidden', 'params', 'lr', 'val error %', 'test error %'],
      [[n['family'], 'x'.join(map(str, n['hidden_widths'])),
        f'{n["param_count"]:,}', f'{n["learning_rate"]:g}',
        report.pct(n['val_error_mean'], n['val_error_std']),
        report.pct(n['test_error_mean'], n['test_error_std'])]
       for n in summary['nets']])
  source = ('set in the config' if summary['pair_from'] == 'config' else
            'the pair the deep net confuses most on validation')
  n = summary['pair_examples']
  return '\n'.join([
      f'# Do deeper layers pull {a} and {b} apart? ({cfg["dataset"]})', '',
      f'Classes {a} vs {b} ({source}). Both nets are trained on every class; '
      f'the pair is measured in each layer\'s activations: a logistic-'
      f'regression probe (C = {cfg["probe_l2"]:g}, standardised features) '
      f'fitted on the pair\'s {n["train"]} training examples and scored on '
      f'its {n["test"]} test examples, and the Fisher ratio tr(S_B)/tr(S_W) '
      f'of the test activations. Mean ± std over {cfg["num_seeds"]} seeds.',
      '', nets, '', layer_table(summary['rows']), '', verdict(summary), '',
      '![probe accuracy and Fisher ratio per layer](separation.png)', '',
      '![PCA and t-SNE of the pair, per layer](projections.png)', '',
      'The probe\'s training examples are ones the nets were trained on, so '
      'late layers may separate them more easily than new data; the probe is '
      'scored on test examples the nets never saw.', '',
      report.run_footer(summary), ''])


def plot_scores(summary, path: str) -> None:
  plt = report.pyplot()
  fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
  for family, color in (('deep', 'tab:blue'), ('shallow', 'tab:orange')):
    rows = [r for r in summary['rows'] if r['family'] == family]
    x = [r['layer'] for r in rows]
    for ax, key, scale in ((axes[0], 'probe_accuracy', 100),
                           (axes[1], 'fisher', 1)):
      ax.errorbar(x, [scale * r[f'{key}_mean'] for r in rows],
                  yerr=[scale * r[f'{key}_std'] for r in rows], marker='o',
                  color=color, capsize=2, label=f'{family} net')
  a, b = summary['pair']
  axes[0].set_ylabel(f'linear probe test accuracy, {a} vs {b} (%)')
  axes[1].set_ylabel('Fisher ratio tr(S_B)/tr(S_W)')
  for ax in axes:
    ax.set_xlabel('layer (0 = input)')
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
  fig.suptitle(f'{summary["config"]["dataset"]}: classes {a} and {b}, layer '
               'by layer')
  report.save_figure(fig, path)
  plt.close(fig)


def plot_projections(summary, path: str) -> None:
  plt = report.pyplot()
  methods = tuple(summary['config']['projections'])
  columns = sorted({tuple(k.split('/')[:2]) for k in summary['projections']},
                   key=lambda fl: (FAMILIES.index(fl[0]), int(fl[1])))
  if not methods or not columns:
    return
  labels = np.asarray(summary['projection_labels'])
  a, b = summary['pair']
  fig, axes = plt.subplots(len(methods), len(columns), squeeze=False,
                           figsize=(2.3 * len(columns), 2.3 * len(methods)))
  for j, (family, layer) in enumerate(columns):
    for i, method in enumerate(methods):
      ax = axes[i, j]
      xy = np.asarray(summary['projections'][f'{family}/{layer}/{method}'])
      for value, name, color in ((0, a, 'tab:blue'), (1, b, 'tab:red')):
        ax.scatter(*xy[labels == value].T, s=4, color=color, label=str(name))
      ax.set_xticks([])
      ax.set_yticks([])
      if i == 0:
        ax.set_title(f'{family}: ' + ('input' if layer == '0'
                                      else f'hidden {layer}'), fontsize=9)
      if j == 0:
        ax.set_ylabel(method.upper() if method == 'pca' else 't-SNE')
  axes[0, 0].legend(fontsize=7, markerscale=2)
  fig.suptitle(f'{summary["config"]["dataset"]}: test examples of {a} and '
               f'{b} in each layer (seed 0)')
  report.save_figure(fig, path)
  plt.close(fig)


def headline(summary) -> str:
  """The claim's verdict in one line (the lecture report's)."""
  return verdict(summary).splitlines()[-1][2:]
