"""Weight sharing: logistic regression, MLP, 1-D CNN and GRU on MNIST-1D and
on MNIST-1D with its 40 positions shuffled (Greydanus 2020).

The lecture's argument for CNNs and RNNs: they share weights across
positions (or time steps), so the same parameter budget buys a function
that fits the data's structure. Shuffling the positions destroys the
locality a convolution and a recurrence rely on, while an MLP, which shares
nothing, does not care. Every family is trained at the paper's own size and
at one matched parameter budget (the logistic model has one size).

Two protocols (config.protocols): `tuned`, every model's Adam rate picked on
validation (the run's schedule, the best epoch kept), and `paper`, the
paper's own for its models: Adam at 1e-2, constant, batch 100, 8,000 steps,
the last step kept, no early stopping (Greydanus 2020: the defaults of the
repository's train.py, which has no schedule and no early stopping; the
paper's text mentions early stopping). We train on 3,400 of the paper's
4,000 examples (validation is held out and, under `paper`, only
watched).

`run(run)` trains every family on each dataset and writes trials.jsonl,
results.json, results.md (our accuracies beside the paper's table) and
results.png (`report.py`).
"""

from __future__ import annotations

import dataclasses
import functools

from deepvsshallow import models, params, runner, train
from deepvsshallow.studies.weight_sharing import report

LENGTH, CLASSES = 40, 10
# Greydanus 2020's models (deepvsshallow/reference/mnist1d2020_models.csv).
PAPER = {'mlp': {'width': 100}, 'cnn': {'channels': 25}, 'gru': {'hidden': 6}}


@dataclasses.dataclass(frozen=True)
class Model:
  family: str
  size: str                 # 'paper', 'budget', or 'paper = budget'
  knob: dict                # width / channels / hidden
  param_count: int

  @property
  def is_papers(self) -> bool:
    """One of the paper's own models (its size; logistic has one)."""
    return self.family == 'logistic' or self.knob == PAPER[self.family]

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


def paper_protocol(settings: train.TrainSettings, config,
                   num_train: int) -> train.TrainSettings:
  """The paper's training: Adam, constant rate, batch 100, about
  `config.paper_steps` steps in whole passes over `num_train` examples, the
  last step kept."""
  steps_per_pass = max(1, num_train // 100)
  return dataclasses.replace(
      settings, optimizer='adam', schedule='constant', weight_decay=0.0,
      batch_size=100, patience=0, keep='last',
      num_epochs=max(1, round(config.paper_steps / steps_per_pass)))


def run(run: runner.Run) -> dict:
  config = run.config
  grid = build_models(config)
  datasets = {name: run.load_dataset(name) for name in config.datasets}
  # (protocol, model) pairs: the paper's protocol for the paper's models.
  trials = [(protocol, m) for protocol in config.protocols for m in grid
            if protocol == 'tuned' or m.is_papers]
  run.describe(datasets[config.datasets[0]],
               f'{len(trials)} (protocol, model) pairs x {len(datasets)} '
               f'datasets; tuned: {len(config.learning_rates)} learning '
               f'rates x {config.num_seeds} seeds; paper: '
               f'lr={config.paper_learning_rate:g} x {config.num_seeds} seeds')
  seeds = list(range(config.num_seeds))
  populations = []
  for name, ds in datasets.items():
    paper = paper_protocol(run.settings, config, len(ds.train))
    for protocol, m in trials:
      info = {'dataset': name, 'family': m.family, 'size': m.size,
              'knob': m.knob, 'protocol': protocol}
      populations.append(
          runner.Population(f'{name}: {m.name}', m.build(), ds, info=info)
          if protocol == 'tuned' else runner.Population(
              f'{name}: {m.name} (paper protocol)', m.build(), ds,
              info={**info, 'epochs': paper.num_epochs}, settings=paper,
              members=(seeds, [config.paper_learning_rate] * len(seeds))))
  picked = run.train_all(populations)
  models_ = [m for _ in datasets for _, m in trials]
  for m, p in zip(models_, picked):
    assert p.info['param_count'] == m.param_count, (m, p.info)
  tests = {name: run.read_test(ds) for name, ds in datasets.items()}
  rows = [report.Row(dataset=p.info['dataset'], family=m.family, size=m.size,
                     model=m.name, param_count=p.info['param_count'],
                     scores=run.scores(p, tests[p.info['dataset']]),
                     protocol=p.info['protocol'])
          for m, p in zip(models_, picked)]
  return run.finish({'rows': rows, 'datasets': list(datasets)},
                    render=report.render_markdown,
                    figures={'results.png': report.plot},
                    console=report.console)
