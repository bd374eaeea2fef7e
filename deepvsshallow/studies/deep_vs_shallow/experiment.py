"""The main job: deep vs shallow MLPs at matched parameter counts.

`run(run)` builds the grid of architectures, trains each architecture's
candidates x seeds as one population (one compiled program per shape),
picks each architecture's learning rate on validation, reads test once for
the picked models, and writes (through `runner.Run`):

  trials.jsonl   one record per trial (config, status, metrics), as it goes
  results.json   per-architecture summary, selection optimism, run metadata
  results.md     the Seide et al. 2011-style table and the full table
  results.png    test error against parameter count, one line per depth

(`report.py` renders the last two.)
"""

from __future__ import annotations

import dataclasses
import functools

import jax.numpy as jnp
import numpy as np

from deepvsshallow import data as data_lib
from deepvsshallow import models, params, runner
from deepvsshallow.studies.deep_vs_shallow import report


@dataclasses.dataclass(frozen=True)
class Architecture:
  """One MLP shape and why it is in the grid.

  `param_count` is the model's own count (it has biases). Each role
  (`report.Role`) says why: a deep net, the matched net of a deep net, or a
  budget's net, with its target count under the matching convention
  (`config.count_biases`) and its relative mismatch: a matched net's target
  is its deep net's count, a budget net's target is the budget.
  """
  hidden_widths: tuple[int, ...]
  roles: tuple[report.Role, ...]
  param_count: int

  @property
  def depth(self) -> int:
    return len(self.hidden_widths)

  @property
  def name(self) -> str:
    widths = set(self.hidden_widths)
    if len(widths) == 1:
      return f'{self.depth}x{self.hidden_widths[0]}'
    return '-'.join(map(str, self.hidden_widths))

  @property
  def is_deep(self) -> bool:
    return any(r.kind == 'deep' for r in self.roles)

  def is_matched_to(self, deep: str) -> bool:
    return any(r.kind == 'matched' and r.matched_to == deep
               for r in self.roles)


def build_grid(config, input_dim: int, num_classes: int) -> list[Architecture]:
  """Deep nets (depth x width), a matched 1-hidden-layer net for each, and
  the widest net of every depth within each budget; duplicates merged.

  Matching counts weights and biases, or weights only (Seide et al. 2011's
  convention) when `config.count_biases` is False.
  """
  depths, width, budgets = tuple(config.depths), config.width, tuple(
      config.budgets)
  roles: dict[tuple[int, ...], list[report.Role]] = {}
  for depth in sorted(set(depths)):
    deep = (width,) * depth
    roles.setdefault(deep, []).append(report.Role('deep'))
    if depth > 1:
      m = params.shallow_match(input_dim, deep, num_classes,
                               biases=config.count_biases)
      roles.setdefault((m.width,), []).append(report.Role(
          'matched', matched_to=f'{depth}x{width}', target=m.target,
          relative_mismatch=m.relative_mismatch))
  for budget in budgets:
    for depth in sorted(set(depths)):
      m = params.budget_width(input_dim, depth, num_classes, budget,
                              biases=config.count_biases)
      roles.setdefault((m.width,) * depth, []).append(report.Role(
          'budget', budget=budget, target=m.target,
          relative_mismatch=m.relative_mismatch))
  return [Architecture(widths, tuple(rs),
                       params.mlp_param_count(input_dim, list(widths),
                                              num_classes))
          for widths, rs in roles.items()]


def run(run: runner.Run) -> dict:
  """Runs the whole sweep; returns the summary written to results.json."""
  config = run.config
  dataset = run.load_dataset()
  grid = build_grid(config, dataset.input_dim, dataset.num_classes)
  run.log(f'{len(grid)} architectures')
  model_fn = lambda arch, init=config.inits[0]: functools.partial(
      models.MLP, dataset.input_dim, arch.hidden_widths,
      dataset.num_classes, activation=config.activation, init=init)
  info = lambda arch: {'architecture': arch.name,
                       'hidden_widths': list(arch.hidden_widths),
                       'roles': [r.label for r in arch.roles]}
  populations = [
      runner.Population(f'[{i + 1}/{len(grid)}] {arch.name}', model_fn(arch),
                        dataset, info=info(arch))
      for i, arch in enumerate(grid)]
  if config.linear_baseline:
    populations.append(runner.Population(
        'logistic regression', functools.partial(
            models.Linear, dataset.input_dim, dataset.num_classes),
        dataset, info={'architecture': 'logistic', 'roles': ['baseline']}))
  picked = run.train_all(populations)
  baseline = picked[len(grid)] if config.linear_baseline else None
  picked = picked[:len(grid)]
  for arch, p in zip(grid, picked):  # The closed form is the model's count.
    assert p.info['param_count'] == arch.param_count, (arch, p.info)
  students = (train_mimics(run, dataset, grid, picked, model_fn)
              if config.mimic else [])
  # The headline pairs again under each other initialisation.
  pairs = [a for a in grid if a.is_deep and any(
      b.is_matched_to(a.name) for b in grid)]
  pairs += [b for b in grid if any(b.is_matched_to(a.name) for a in pairs)]
  others = {init: run.train_all([
      runner.Population(f'{arch.name} ({init} init)', model_fn(arch, init),
                        dataset, info={**info(arch), 'init': init})
      for arch in pairs]) for init in config.inits[1:]}

  test = run.read_test(dataset)
  row = lambda arch, p: report.Row(
      architecture=arch.name, depth=arch.depth,
      hidden_widths=arch.hidden_widths, roles=arch.roles,
      param_count=arch.param_count, scores=run.scores(p, test))
  rows = [row(arch, p) for arch, p in zip(grid, picked)]
  results = {
      'dataset': {'name': dataset.name, 'train': len(dataset.train),
                  'validation': len(dataset.validation), 'test': len(test),
                  'input_dim': dataset.input_dim,
                  'num_classes': dataset.num_classes},
      # 'architectures': the rows (tests/conftest.py compares them).
      'architectures': rows,
      'mimic': [mimic_row(student, test) for student in students],
      'linear_baseline': None if baseline is None else report.Baseline(
          baseline.info['param_count'], run.scores(baseline, test)),
      'overall_pick': report.overall_pick(rows),
      'init': config.inits[0],
      # The deep nets and their matched nets under each other init.
      'other_inits': {init: [row(a, p) for a, p in zip(pairs, ps)]
                      for init, ps in others.items()},
      'seeds': list(range(config.num_seeds)),
  }
  return run.finish(
      results, render=report.render_markdown,
      figures={'results.png': report.plot_results},
      console=report.console)


# ------------------------------------------------- Ba & Caruana 2014: mimic


def _logits(model, inputs, convention: str, chunk: int = 4096) -> np.ndarray:
  prepared = data_lib.prepare_inputs(inputs, convention)
  return np.concatenate([np.asarray(model(jnp.asarray(prepared[i:i + chunk])))
                         for i in range(0, len(prepared), chunk)])


def train_mimics(run, dataset, grid, picked, model_fn) -> list:
  """Each deep net's matched one-hidden-layer net, trained to mimic the deep
  net's logits (squared error on logits, Ba & Caruana 2014) on the same
  training inputs. Labels are never used; the learning rate is picked on the
  validation inputs' logit error. The teacher is the picked deep net of
  seed 0; student seed s starts from its own initialisation.

  Returns (population, student, teacher) per deep net with a matched net.
  """
  populations, teachers = [], []
  conv = dataset.input_convention
  for arch, p in zip(grid, picked):
    match = next((a for a in grid if a.is_matched_to(arch.name)), None)
    if not arch.is_deep or match is None or p.pick is None:
      continue
    teacher = p.member(0)
    taught = dataclasses.replace(
        dataset, name=f'{dataset.name} logits of {arch.name}',
        train=data_lib.Split(dataset.train.inputs, _logits(
            teacher, dataset.train.inputs, conv)),
        validation=data_lib.Split(dataset.validation.inputs, _logits(
            teacher, dataset.validation.inputs, conv)),
        task='logit_matching')
    populations.append(runner.Population(
        f'{match.name} mimicking {arch.name}', model_fn(match), taught,
        info={'architecture': match.name, 'teacher': arch.name,
              'roles': [f'mimic:{arch.name}']}))
    teachers.append(p)
  if not populations:
    return []
  return list(zip(populations, run.train_all(populations), teachers))


def mimic_row(student_entry, test) -> report.Mimic:
  """The student's test error on the true labels, and how often it agrees
  with its teacher, per seed. (Its own task is logit matching, so its
  label error is read from its logits, member by member.)"""
  pop, student, teacher = student_entry
  out = dict(architecture=pop.info['architecture'],
             teacher=pop.info['teacher'],
             param_count=student.info['param_count'])
  if student.pick is None:
    return report.Mimic(**out, scores=runner.Scores(
        status='diverged', metric='error',
        num_candidates=len(set(student.learning_rates)),
        num_diverged=len(student.learning_rates)))
  conv = pop.dataset.input_convention
  teacher_pred = _logits(teacher.member(0), test.inputs, conv).argmax(1)
  preds = np.stack([_logits(student.member(i), test.inputs, conv).argmax(1)
                    for i in range(len(student.pick.members))])
  errors = (preds != test.targets).astype(float)         # (seeds, examples)
  return report.Mimic(
      **out,
      scores=runner.Scores(
          status='done', metric='error',
          num_candidates=student.pick.num_candidates,
          num_diverged=student.pick.num_diverged,
          learning_rate=student.pick.candidate,
          test_per_seed=tuple(errors.mean(1)),
          test_examples=runner.encode_examples(errors), grid=student.grid,
          on_edge=student.on_edge),
      val_logit_mse_per_seed=tuple(float(v) for v in student.pick.val_errors),
      teacher_test_error=float(np.mean(teacher_pred != test.targets)),
      teacher_examples=runner.encode_examples(
          (teacher_pred != test.targets)[None].astype(float)),
      agreement_per_seed=tuple((preds == teacher_pred).mean(1)))
