"""Ideal vs real (the lecture's "鱼与熊掌"): how much of a model family's
test loss is the data's fault?

For deep and shallow MLP families across parameter counts, each net trains
once on the real MNIST-1D training set (4,000 examples, less validation) and
once on an "ideal" one: MNIST-1D generated 50x larger by the same package
with another seed (so none of its examples is a test example). Both are
evaluated on the same real test set, with the same number of optimizer
steps. The lecture predicts that the gap between real and ideal grows with
the size of the function set (the parameter count), and that depth reaches
a low loss with fewer parameters. The report says what happens.

Files: trials.jsonl, results.json, results.md, results.png.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from deepvsshallow import config as config_lib
from deepvsshallow import data as data_lib
from deepvsshallow import models, params, report, runner, selection


def architectures(config, input_dim: int, num_classes: int):
  """[(family, hidden_widths)]: each deep width, and the one-hidden-layer
  net whose count is nearest it."""
  out = []
  for width in config.deep_widths:
    deep = (width,) * config.deep_depth
    out.append(('deep', deep))
    out.append(('shallow', (params.shallow_match(input_dim, deep,
                                                 num_classes).width,)))
  return out


def epochs_for(steps: int, num_train: int, batch_size: int) -> int:
  """Epochs that give at least `steps` optimizer steps."""
  return max(1, math.ceil(steps / (num_train // batch_size)))


def check_config(config, problems: config_lib.Problems) -> None:
  config_lib.int_list(problems, 'deep_widths', config.deep_widths)
  config_lib.int_field(problems, config, 'deep_depth', at_least=2)
  config_lib.int_field(problems, config, 'ideal_factor', at_least=2)
  config_lib.int_field(problems, config, 'ideal_seed', at_least=0)
  generator = config_lib.generator_of(config) or {}
  if config_lib.is_int(config.ideal_seed, at_least=0) and (
      config.ideal_seed == generator.get('seed')):
    problems.add(f'config.ideal_seed={config.ideal_seed} is the real '
                 'dataset\'s seed: the ideal set would contain the test '
                 'examples; pick another.')


def train_and_evaluate(config, workdir: str) -> dict:
  with runner.Run('ideal_vs_real', config, workdir, check=check_config) as run:
    real = run.load_dataset()
    generator = config_lib.generator_of(config)
    ideal_args = {'num_samples': generator['num_samples']
                  * config.ideal_factor, 'seed': config.ideal_seed}
    run.log(f'Generating the ideal set ({ideal_args["num_samples"]:,} '
            'samples; prepared once, then cached)...')
    ideal = data_lib.load_dataset(
        config.dataset, data_dir=config.data_dir or None,
        val_fraction=config.val_fraction, split_seed=config.split_seed,
        generator=ideal_args)
    # config.num_epochs on the real set; the ideal set gets as many steps.
    steps = len(real.train) // config.batch_size * config.num_epochs
    settings = {'real': run.settings,
                'ideal': dataclasses.replace(run.settings, num_epochs=epochs_for(
                    steps, len(ideal.train), config.batch_size))}
    grid = architectures(config, real.input_dim, real.num_classes)
    populations = [
        runner.Population(
            f'{kind} {family} {"x".join(map(str, widths))}',
            functools.partial(models.MLP, real.input_dim, widths,
                              real.num_classes),
            ds, info={'data': kind, 'family': family,
                      'hidden_widths': list(widths),
                      'train_examples': len(ds.train),
                      'num_epochs': settings[kind].num_epochs},
            settings=settings[kind])
        for kind, ds in (('real', real), ('ideal', ideal))
        for family, widths in grid]
    picked = run.train_all(populations)
    test = run.read_test(real)     # The same real test set for both.
    rows = []
    for p in picked:
      row = dict(p.info)
      if p.pick is None:
        rows.append({**row, 'status': 'diverged'})
        continue
      metrics = p.evaluator(p.params, p.rest, test)
      for m in ('loss', 'error'):
        mean, std = selection.mean_std(np.asarray(metrics[m]))
        row[f'test_{m}_mean'], row[f'test_{m}_std'] = mean, std
      rows.append({**row, 'status': 'done',
                   'learning_rate': p.pick.candidate})
    return run.finish(
        {'rows': rows, 'steps': steps,
         'train_examples': {'real': len(real.train),
                            'ideal': len(ideal.train)}},
        render=render_markdown, figures={'results.png': plot},
        console=lambda s: results_table(s['rows']) + '\n\n' + verdict(
            s['rows']))


def _pairs(rows):
  """{(family, widths): {'real': row, 'ideal': row}} for finished rows."""
  out = {}
  for r in rows:
    if r['status'] == 'done':
      out.setdefault((r['family'], tuple(r['hidden_widths'])), {})[
          r['data']] = r
  return {k: v for k, v in out.items() if len(v) == 2}


def results_table(rows) -> str:
  out = []
  for (family, widths), v in sorted(
      _pairs(rows).items(), key=lambda kv: (kv[0][0], kv[1]['real'][
          'param_count'])):
    r, i = v['real'], v['ideal']
    out.append([family, 'x'.join(map(str, widths)), f'{r["param_count"]:,}',
                f'{r["test_loss_mean"]:.3f} ± {r["test_loss_std"]:.3f}',
                f'{i["test_loss_mean"]:.3f} ± {i["test_loss_std"]:.3f}',
                f'{r["test_loss_mean"] - i["test_loss_mean"]:+.3f}',
                report.pct(r['test_error_mean'], r['test_error_std']),
                report.pct(i['test_error_mean'], i['test_error_std'])])
  return report.markdown_table(
      ['family', 'hidden', 'params', 'test loss (real)', 'test loss (ideal)',
       'real − ideal', 'test err % (real)', 'test err % (ideal)'], out)


def verdict(rows) -> str:
  pairs = _pairs(rows)
  said = []
  for family in ('deep', 'shallow'):
    fam = sorted(((v['real']['param_count'],
                   v['real']['test_loss_mean'] - v['ideal']['test_loss_mean'])
                  for (f, _), v in pairs.items() if f == family))
    if len(fam) < 2:
      continue
    gaps = [g for _, g in fam]
    grows = all(b >= a for a, b in zip(gaps, gaps[1:]))
    said.append(
        f'{family}: the real − ideal loss gap goes '
        f'{" → ".join(f"{g:+.3f}" for g in gaps)} from {fam[0][0]:,} to '
        f'{fam[-1][0]:,} parameters: it '
        f'{"grows with the parameter count at every step" if grows else "does not grow monotonically with the parameter count"}.')
  ideal = {(f, v['real']['param_count']): v['ideal']['test_loss_mean']
           for (f, _), v in pairs.items()}
  deep = sorted((n, l) for (f, n), l in ideal.items() if f == 'deep')
  shallow = sorted((n, l) for (f, n), l in ideal.items() if f == 'shallow')
  if deep and shallow:
    wins = sum(dl < sl for (_, dl), (_, sl) in zip(deep, shallow))
    said.append(
        f'With ideal data, the deep net has the lower test loss in {wins} of '
        f'{min(len(deep), len(shallow))} parameter-matched pairs; the lowest '
        f'ideal loss is {min(deep, key=lambda t: t[1])[1]:.3f} for deep '
        f'({min(deep, key=lambda t: t[1])[0]:,} params) and '
        f'{min(shallow, key=lambda t: t[1])[1]:.3f} for shallow '
        f'({min(shallow, key=lambda t: t[1])[0]:,} params).')
  return '\n'.join(f'- {s}' for s in said)


def render_markdown(summary) -> str:
  cfg, rows = summary['config'], summary['rows']
  n = summary['train_examples']
  return '\n'.join([
      '# Ideal vs real: deep and shallow families on MNIST-1D', '',
      f'Real: {n["real"]:,} training examples (MNIST-1D with the published '
      f'arguments, validation carved out). Ideal: {n["ideal"]:,}, from '
      f'{cfg["ideal_factor"]}x as many samples generated with seed '
      f'{cfg["ideal_seed"]}. Both are trained for about {summary["steps"]:,} '
      'optimizer steps and tested on the same real test set (1,000). Deep: '
      f'{cfg["deep_depth"]} hidden layers of each width; shallow: one hidden '
      'layer with the nearest parameter count. Test loss is cross-entropy. '
      f'Mean ± std over {cfg["num_seeds"]} seeds; learning rate picked on '
      'each training set\'s own validation split.', '',
      results_table(rows), '', verdict(rows), '',
      'Test loss is that of each net\'s best-validation-error epoch; on the '
      'real set it rises with size while the error falls: the larger nets '
      'fit the 3,400 examples with growing confidence, and their wrong '
      'answers cost more cross-entropy.', '',
      'The lecture\'s picture: a larger function set can get closer to the '
      'ideal (lower ideal loss) but needs more data to get there, so the '
      'real − ideal gap grows with its size; depth buys a lower ideal loss '
      'per parameter. Whatever the table shows is what happened here.', '',
      report.run_footer(summary), ''])


def plot(summary, path: str) -> None:
  plt = report.pyplot()
  import matplotlib.ticker
  rows = [r for r in summary['rows'] if r['status'] == 'done']
  fig, axes = plt.subplots(1, 2, figsize=(11, 4))
  for ax, metric, scale, label in ((axes[0], 'loss', 1, 'test loss'),
                                   (axes[1], 'error', 100, 'test error (%)')):
    for family, color in (('deep', 'tab:blue'), ('shallow', 'tab:orange')):
      for data, style in (('real', '-'), ('ideal', '--')):
        pts = sorted((r for r in rows if r['family'] == family
                      and r['data'] == data), key=lambda r: r['param_count'])
        ax.errorbar([r['param_count'] for r in pts],
                    [scale * r[f'test_{metric}_mean'] for r in pts],
                    yerr=[scale * r[f'test_{metric}_std'] for r in pts],
                    color=color, linestyle=style, marker='o', capsize=2,
                    label=f'{family}, {data}')
    ax.set_xscale('log')
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel('parameters')
    ax.set_ylabel(label)
    ax.grid(True, which='both', alpha=0.3)
  axes[0].legend(fontsize=8)
  fig.suptitle('MNIST-1D: real (4,000) vs ideal (50x) training data, same '
               'real test set')
  report.save_figure(fig, path)
  plt.close(fig)


def headline(summary) -> str:
  """The claim's verdict in one line (the lecture report's)."""
  return ' '.join(line[2:] for line in verdict(summary['rows']).splitlines())
