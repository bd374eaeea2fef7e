"""Weight sharing: logistic regression, MLP, 1-D CNN and GRU on MNIST-1D and
on MNIST-1D with its 40 positions shuffled (Greydanus 2020).

The lecture's argument for CNNs and RNNs: they share weights across
positions (or time steps), so the same parameter budget buys a function
that fits the data's structure. Shuffling the positions destroys the
locality a convolution and a recurrence rely on, while an MLP, which shares
nothing, does not care. Every family is trained at the paper's own size and
at one matched parameter budget (the logistic model has one size).

`train_and_evaluate(config, workdir)` writes trials.jsonl, results.json,
results.md (our accuracies beside the paper's table) and results.png.
"""

from __future__ import annotations

import dataclasses
import functools

from deepvsshallow import config as config_lib
from deepvsshallow import data as data_lib
from deepvsshallow import models, params, reference, report, runner

LENGTH, CLASSES = 40, 10
FAMILIES = ('logistic', 'mlp', 'cnn', 'gru')
# Greydanus 2020's models (deepvsshallow/reference/mnist1d2020_models.csv).
PAPER = {'mlp': {'width': 100}, 'cnn': {'channels': 25}, 'gru': {'hidden': 6}}


@dataclasses.dataclass(frozen=True)
class Model:
  family: str
  size: str                 # 'paper', 'budget', or 'paper = budget'
  knob: dict                # width / channels / hidden
  param_count: int

  @property
  def name(self) -> str:
    knob = ''.join(f' {k} {v}' for k, v in self.knob.items())
    return f'{self.family}{knob}'

  def build(self):
    if self.family == 'logistic':
      return functools.partial(models.Linear, LENGTH, CLASSES)
    if self.family == 'mlp':
      return functools.partial(models.ResidualMLP, LENGTH, self.knob['width'],
                               CLASSES)
    if self.family == 'cnn':
      c = self.knob['channels']
      return functools.partial(models.CNN1D, LENGTH, CLASSES,
                               channels=(c, c, c))
    return functools.partial(models.GRU, LENGTH, CLASSES,
                             hidden=self.knob['hidden'])


def count(family: str, knob: dict) -> int:
  """The closed-form parameter count of a family at a size."""
  if family == 'logistic':
    return (LENGTH + 1) * CLASSES
  if family == 'mlp':
    return params.residual_mlp_param_count(LENGTH, knob['width'], CLASSES)
  if family == 'cnn':
    c = knob['channels']
    return params.cnn1d_param_count(LENGTH, (c, c, c), (5, 3, 3), (2, 2, 2),
                                     CLASSES)
  return params.gru_param_count(LENGTH, knob['hidden'], CLASSES)


def at_budget(family: str, budget: int) -> dict:
  """The size whose count is nearest the budget (ties: the smaller)."""
  key = {'mlp': 'width', 'cnn': 'channels', 'gru': 'hidden'}[family]
  size = min(range(1, 2000), key=lambda v: (abs(count(family, {key: v})
                                                - budget), v))
  return {key: size}


def build_models(config) -> list[Model]:
  out = []
  for family in config.families:
    if family == 'logistic':
      out.append(Model('logistic', 'one size', {}, count('logistic', {})))
      continue
    sizes = {}
    if 'paper' in config.sizes:
      sizes.setdefault(tuple(PAPER[family].items()), []).append('paper')
    if 'budget' in config.sizes:
      knob = at_budget(family, config.budget)
      sizes.setdefault(tuple(knob.items()), []).append('budget')
    for knob, roles in sizes.items():
      knob = dict(knob)
      out.append(Model(family, ' = '.join(roles), knob, count(family, knob)))
  return out


def check_config(config, problems: config_lib.Problems) -> None:
  unknown = [f for f in config.families if f not in FAMILIES]
  if unknown or not config.families:
    problems.add(f'config.families must be a non-empty subset of '
                 f'{", ".join(FAMILIES)}; got {tuple(config.families)}.')
  bad = [s for s in config.sizes if s not in ('paper', 'budget')]
  if bad or not config.sizes:
    problems.add(f'config.sizes must be a non-empty subset of paper, budget; '
                 f'got {tuple(config.sizes)}.')
  config_lib.int_field(problems, config, 'budget', at_least=500)
  for name in config.datasets:
    spec = problems.attempt(data_lib.get_spec, name)
    if spec is not None and spec.tfds_name != 'mnist1d':
      problems.add(f'config.datasets: {name!r} is not an MNIST-1D variant; '
                   'use mnist1d or mnist1d_shuffled.')
  if not config.datasets:
    problems.add('config.datasets must name at least one dataset.')
  generator = config_lib.generator_of(config)
  for line in data_lib.check_generator('mnist1d', generator):
    problems.add(line)
  if not problems and config_lib.is_int(config.batch_size, at_least=1):
    size = data_lib.get_spec('mnist1d').train_size_for(generator)
    n_train = size - data_lib.num_validation(size, config.val_fraction)
    if config.batch_size > n_train:
      problems.add(f'config.batch_size={config.batch_size} is larger than the '
                   f'{n_train} training examples; lower it.')


def train_and_evaluate(config, workdir: str) -> dict:
  with runner.Run('weight_sharing', config, workdir, check=check_config) as run:
    grid = build_models(config)
    datasets = {name: data_lib.load_dataset(
        name, data_dir=config.data_dir or None,
        val_fraction=config.val_fraction, split_seed=config.split_seed,
        generator=config_lib.generator_of(config))
        for name in config.datasets}
    first = datasets[config.datasets[0]]
    run.log(f'weight_sharing: {", ".join(datasets)} (train {len(first.train)}, '
            f'validation {len(first.validation)}), {len(grid)} models, '
            f'{len(config.learning_rates)} learning rates x '
            f'{config.num_seeds} seeds; writing to {run.workdir}')
    populations = [
        runner.Population(f'{name}: {m.name}', m.build(), ds,
                          info={'dataset': name, 'family': m.family,
                                'size': m.size, 'knob': m.knob})
        for name, ds in datasets.items() for m in grid]
    picked = run.train_all(populations)
    for m, p in zip(grid * len(datasets), picked):
      assert p.info['param_count'] == m.param_count, (m, p.info)
    tests = {name: run.read_test(ds) for name, ds in datasets.items()}
    rows = [{**p.info, 'model': m.name, **run.test_summary(
        p, tests[p.info['dataset']])}
            for m, p in zip(grid * len(datasets), picked)]
    return run.finish({'rows': rows, 'datasets': list(datasets)},
                      render=render_markdown, figures={'results.png': plot},
                      console=lambda s: results_table(s['rows'],
                                                      s['datasets']))


def _paper_accuracy() -> dict[tuple[str, str], str]:
  out = {}
  for r in reference.load_csv('mnist1d2020_models.csv'):
    for family in FAMILIES:
      out[(r['dataset'], family)] = r[family]
  return out


def results_table(rows, datasets) -> str:
  paper = _paper_accuracy()
  by = {(r['dataset'], r['model'], r['size']): r for r in rows}
  keys = list(dict.fromkeys((r['model'], r['size'], r['family'])
                            for r in rows))
  header = ['model', 'size', 'params']
  for name in datasets:
    header += [f'{name} acc % (ours)', f'{name} (paper)']
  out = []
  for model, size, family in keys:
    count = by[(datasets[0], model, size)]['param_count']
    line = [model, size, f'{count:,}']
    for name in datasets:
      r = by[(name, model, size)]
      acc = ('diverged' if r['status'] != 'done' else
             f'{100 * (1 - r["test_error_mean"]):.1f} ± '
             f'{100 * r["test_error_std"]:.1f}')
      line += [acc, paper.get((name, family), '') if 'paper' in size
               or family == 'logistic' else '']
    out.append(line)
  return report.markdown_table(header, out)


def verdict(rows, datasets) -> str:
  if len(datasets) < 2 or 'mnist1d' not in datasets:
    return ''
  shuffled = next(d for d in datasets if d != 'mnist1d')
  by = {(r['dataset'], r['model'], r['size']): r for r in rows
        if r['status'] == 'done'}
  said = []
  for (name, model, size), r in by.items():
    if name != 'mnist1d' or (shuffled, model, size) not in by:
      continue
    s = by[(shuffled, model, size)]
    drop = 100 * (s['test_error_mean'] - r['test_error_mean'])
    said.append(f'{model} ({size}, {r["param_count"]:,} params): '
                f'{100 * (1 - r["test_error_mean"]):.1f}% -> '
                f'{100 * (1 - s["test_error_mean"]):.1f}% when shuffled '
                f'({drop:+.1f} points of error).')
  return '\n'.join(f'- {line}' for line in said)


def render_markdown(summary) -> str:
  cfg, rows, datasets = summary['config'], summary['rows'], summary['datasets']
  return '\n'.join([
      '# Weight sharing on MNIST-1D (Greydanus 2020)', '',
      f'Test accuracy %, mean ± std over {cfg["num_seeds"]} seeds '
      '(replicates); the learning rate of each model picked on validation '
      f'from {tuple(cfg["learning_rates"])}; {cfg["optimizer"]}, batch '
      f'{cfg["batch_size"]}, {cfg["num_epochs"]} epochs. The paper trains '
      'Adam at 1e-2, batch 100, 8,000 steps, on all 4,000 training examples '
      '(we hold out a validation split), and reports one run. Its numbers '
      '(deepvsshallow/reference/mnist1d2020_models.csv) are for its own '
      f'sizes; "budget" sizes are ours, all near {cfg["budget"]:,} '
      'parameters.', '',
      results_table(rows, datasets), '',
      'What shuffling the 40 positions does (one fixed permutation, as in the '
      'paper): a model that shares weights across positions relies on their '
      'order; one that shares nothing does not.', '',
      verdict(rows, datasets), '',
      report.run_footer(summary), ''])


def plot(summary, path: str) -> None:
  plt = report.pyplot()
  rows = [r for r in summary['rows'] if r['status'] == 'done']
  fig, ax = plt.subplots(figsize=(7, 4))
  for name, marker in zip(summary['datasets'], 'os^'):
    pts = [r for r in rows if r['dataset'] == name]
    ax.errorbar([r['param_count'] for r in pts],
                [100 * (1 - r['test_error_mean']) for r in pts],
                yerr=[100 * r['test_error_std'] for r in pts], fmt=marker,
                capsize=3, label=name)
    for r in pts:
      ax.annotate(r['family'], (r['param_count'],
                                100 * (1 - r['test_error_mean'])),
                  fontsize=7, xytext=(3, 3), textcoords='offset points')
  ax.set_xscale('log')
  ax.set_xlabel('parameters')
  ax.set_ylabel('test accuracy (%)')
  ax.set_title('MNIST-1D: weight sharing vs position shuffling')
  ax.legend()
  ax.grid(True, alpha=0.3)
  report.save_figure(fig, path)
  plt.close(fig)


def headline(summary) -> str:
  """The claim's verdict in one line (the lecture report's)."""
  by = {(r['dataset'], r['family'], r['size']): r for r in summary['rows']
        if r['status'] == 'done'}
  acc = lambda r: f'{100 * (1 - r["test_error_mean"]):.1f}%'
  parts = []
  for family in ('mlp', 'cnn', 'gru'):
    size = next((s for (d, f, s) in by if f == family and d == 'mnist1d'),
                None)
    if size is None:
      continue
    plain = by[('mnist1d', family, size)]
    shuffled = by.get(('mnist1d_shuffled', family, size))
    parts.append(f'{family} {plain["param_count"]:,} params {acc(plain)}'
                 + (f' (shuffled {acc(shuffled)})' if shuffled else ''))
  return 'Test accuracy on MNIST-1D: ' + ', '.join(parts) + '.'
