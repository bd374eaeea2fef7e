"""The main job: deep vs shallow MLPs at matched parameter counts.

`train_and_evaluate(config, workdir)` builds the grid of architectures, trains
each architecture's candidates x seeds as one population (one compiled
program per shape), picks each architecture's learning rate on validation,
reads test once for the picked models, and writes (through `runner.Run`):

  trials.jsonl   one record per trial (config, status, metrics), as it goes
  results.json   per-architecture summary, selection optimism, run metadata
  results.md     the Seide et al. 2011-style table and the full table
  results.png    test error against parameter count, one line per depth
"""

from __future__ import annotations

import dataclasses
import functools

import jax.numpy as jnp
import numpy as np

from deepvsshallow import config as config_lib
from deepvsshallow import data as data_lib
from deepvsshallow import models, params, reference, report, runner, selection


@dataclasses.dataclass(frozen=True)
class Architecture:
  """One MLP shape and why it is in the grid.

  `param_count` is the model's own count (it has biases). `matching` maps
  each role to (target, relative mismatch) under the matching convention
  (`config.count_biases`): a matched net's target is its deep net's count, a
  budget net's target is the budget.
  """
  hidden_widths: tuple[int, ...]
  roles: tuple[str, ...]   # 'deep', 'matched:5x128', 'budget:40000'
  param_count: int
  matching: tuple[tuple[str, int, float], ...] = ()

  @property
  def depth(self) -> int:
    return len(self.hidden_widths)

  @property
  def name(self) -> str:
    widths = set(self.hidden_widths)
    if len(widths) == 1:
      return f'{self.depth}x{self.hidden_widths[0]}'
    return '-'.join(map(str, self.hidden_widths))


def build_grid(config, input_dim: int, num_classes: int) -> list[Architecture]:
  """Deep nets (depth x width), a matched 1-hidden-layer net for each, and
  the widest net of every depth within each budget; duplicates merged.

  Matching counts weights and biases, or weights only (Seide et al. 2011's
  convention) when `config.count_biases` is False.
  """
  depths, width, budgets = tuple(config.depths), config.width, tuple(
      config.budgets)
  roles: dict[tuple[int, ...], list[tuple[str, int, float]]] = {}
  for depth in sorted(set(depths)):
    deep = (width,) * depth
    roles.setdefault(deep, []).append(('deep', 0, 0.0))
    if depth > 1:
      m = params.shallow_match(input_dim, deep, num_classes,
                               biases=config.count_biases)
      roles.setdefault((m.width,), []).append(
          (f'matched:{depth}x{width}', m.target, m.relative_mismatch))
  for budget in budgets:
    for depth in sorted(set(depths)):
      m = params.budget_width(input_dim, depth, num_classes, budget,
                              biases=config.count_biases)
      roles.setdefault((m.width,) * depth, []).append(
          (f'budget:{budget}', m.target, m.relative_mismatch))
  return [Architecture(widths, tuple(r[0] for r in rs),
                       params.mlp_param_count(input_dim, list(widths),
                                              num_classes),
                       tuple(r for r in rs if r[0] != 'deep'))
          for widths, rs in roles.items()]


def check_config(config, problems: config_lib.Problems) -> None:
  """This study's fields, one line per problem (the runner checks the rest)."""
  config_lib.one_of(problems, config, 'activation', tuple(models.ACTIVATIONS))
  depths = config_lib.int_list(problems, 'depths', config.depths)
  config_lib.int_list(problems, 'width', [config.width])
  config_lib.int_list(problems, 'budgets', config.budgets, allow_empty=True)
  for name in ('count_biases', 'linear_baseline', 'mimic'):
    if not isinstance(config[name], bool):
      problems.add(f'config.{name} must be True or False, got '
                   f'{config[name]!r}.')
  spec = problems.attempt(data_lib.get_spec, config.dataset)
  if spec is not None and depths and not problems:
    problems.attempt(build_grid, config, int(np.prod(spec.input_shape)),
                     spec.num_classes)


def train_and_evaluate(config, workdir: str) -> dict:
  """Runs the whole sweep; returns the summary written to results.json."""
  with runner.Run('deep_vs_shallow', config, workdir,
                  check=check_config) as run:
    dataset = run.load_dataset()
    grid = build_grid(config, dataset.input_dim, dataset.num_classes)
    run.log(f'{len(grid)} architectures')
    model_fn = lambda arch: functools.partial(
        models.MLP, dataset.input_dim, arch.hidden_widths,
        dataset.num_classes, activation=config.activation)
    populations = [
        runner.Population(f'[{i + 1}/{len(grid)}] {arch.name}', model_fn(arch),
                          dataset, info={'architecture': arch.name,
                                         'hidden_widths': list(
                                             arch.hidden_widths),
                                         'roles': list(arch.roles)})
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

    test = run.read_test(dataset)
    rows = []
    for arch, p in zip(grid, picked):
      rows.append({'architecture': arch.name, 'depth': arch.depth,
                   'hidden_widths': list(arch.hidden_widths),
                   'roles': list(arch.roles), 'param_count': arch.param_count,
                   'matching': [{'role': r, 'target': t,
                                 'relative_mismatch': m}
                                for r, t, m in arch.matching],
                   **run.test_summary(p, test)})
    results = {
        'dataset': {'name': dataset.name, 'train': len(dataset.train),
                    'validation': len(dataset.validation), 'test': len(test),
                    'input_dim': dataset.input_dim,
                    'num_classes': dataset.num_classes},
        'architectures': rows,
        'mimic': [mimic_summary(run, student, test)
                  for student in students],
        'linear_baseline': None if baseline is None else {
            'param_count': baseline.info['param_count'],
            **run.test_summary(baseline, test)},
        'overall_pick': _overall_pick(rows),
        'seeds': list(range(config.num_seeds)),
    }
    return run.finish(
        results, render=render_markdown,
        figures={'results.png': plot_results},
        console=lambda s: '\n\n'.join(filter(None, [
            seide_table(s['architectures']), verdict(s['architectures']),
            baseline_note(s), mimic_verdict(s)])))


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
    match = next((a for a in grid if f'matched:{arch.name}' in a.roles), None)
    if 'deep' not in arch.roles or match is None or p.pick is None:
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


def mimic_summary(run, student_entry, test) -> dict:
  """The student's test error on the true labels, and how often it agrees
  with its teacher, per seed."""
  pop, student, teacher = student_entry
  out = {'architecture': pop.info['architecture'],
         'teacher': pop.info['teacher'],
         'param_count': student.info['param_count']}
  if student.pick is None:
    return {**out, 'status': 'diverged'}
  conv = pop.dataset.input_convention
  teacher_pred = _logits(teacher.member(0), test.inputs, conv).argmax(1)
  errors, agreement = [], []
  for i in range(len(student.pick.members)):
    pred = _logits(student.member(i), test.inputs, conv).argmax(1)
    errors.append(float(np.mean(pred != test.targets)))
    agreement.append(float(np.mean(pred == teacher_pred)))
  mean, std = selection.mean_std(errors)
  return {**out, 'status': 'done', 'learning_rate': student.pick.candidate,
          'val_logit_mse_mean': float(np.mean(student.pick.val_errors)),
          'test_error_mean': mean, 'test_error_std': std,
          'test_per_seed': errors,
          'teacher_test_error': float(np.mean(teacher_pred != test.targets)),
          'agreement_with_teacher_mean': float(np.mean(agreement))}


def mimic_table(summary) -> str:
  rows = {r['architecture']: r for r in summary['architectures']}
  out = []
  for m in summary.get('mimic') or []:
    deep, shallow = rows[m['teacher']], rows[m['architecture']]
    err = lambda r: (report.pct(r['test_error_mean'], r['test_error_std'])
                     if r['status'] == 'done' else 'diverged')
    out.append([m['teacher'], err(deep),
                report.pct(m['teacher_test_error']) if m['status'] == 'done'
                else '', m['architecture'], f'{m["param_count"]:,}',
                err(shallow), err(m),
                f'{100 * m["agreement_with_teacher_mean"]:.1f}'
                if m['status'] == 'done' else ''])
  return report.markdown_table(
      ['deep (teacher)', 'deep test err %', 'teacher (seed 0) %',
       'shallow', 'params', 'shallow on labels %', 'shallow mimic %',
       'mimic agrees with teacher %'], out)


def mimic_verdict(summary) -> str:
  rows = {r['architecture']: r for r in summary['architectures']}
  said = []
  for m in summary.get('mimic') or []:
    deep, shallow = rows[m['teacher']], rows[m['architecture']]
    if 'done' != m['status'] or deep['status'] != 'done' or (
        shallow['status'] != 'done'):
      continue
    gap = shallow['test_error_mean'] - deep['test_error_mean']
    closed = shallow['test_error_mean'] - m['test_error_mean']
    noise = np.hypot(shallow['test_error_std'], deep['test_error_std'])
    if gap <= noise:
      said.append(
          f'{m["architecture"]} vs {m["teacher"]}: no gap beyond the seeds\' '
          f'spread to close (shallow {report.pct(shallow["test_error_mean"])}'
          f'%, deep {report.pct(deep["test_error_mean"])}%); the mimic got '
          f'{report.pct(m["test_error_mean"])}%.')
    elif closed <= 0:
      said.append(
          f'{m["architecture"]} vs {m["teacher"]}: mimicking did not help '
          f'({report.pct(m["test_error_mean"])}% vs '
          f'{report.pct(shallow["test_error_mean"])}% on labels; deep '
          f'{report.pct(deep["test_error_mean"])}%).')
    elif closed >= gap:
      said.append(
          f'{m["architecture"]} vs {m["teacher"]}: the mimic closed the whole '
          f'{100 * gap:.2f}-point gap and reached its teacher\'s level '
          f'({report.pct(m["test_error_mean"], m["test_error_std"])}% vs '
          f'{report.pct(shallow["test_error_mean"])}% on labels, deep '
          f'{report.pct(deep["test_error_mean"])}%).')
    else:
      said.append(
          f'{m["architecture"]} vs {m["teacher"]}: mimicking closed '
          f'{100 * closed / gap:.0f}% of the {100 * gap:.2f}-point gap '
          f'({report.pct(m["test_error_mean"])}% vs '
          f'{report.pct(shallow["test_error_mean"])}% on labels, deep '
          f'{report.pct(deep["test_error_mean"])}%).')
  if not said:
    return ''
  return '\n'.join(f'- {line}' for line in said) + (
      '\n\nA gap the mimic closes is one of learning: the shallow net can '
      'represent what the deep one computes but does not find it from labels. '
      'A gap it leaves open is one of representation at this size (or of '
      'what squared logit error can transfer).')


def reference_ba_caruana_table() -> str:
  rows = reference.load_csv('ba_caruana2014_timit.csv')
  return report.markdown_table(['model', 'params', 'PER %'],
                               [(r['model'], r['params'], r['per_percent'])
                                for r in rows])


def _overall_pick(rows):
  """Picking the architecture too: the winner's val error is more optimistic
  still, because it is the minimum over every architecture's candidates."""
  done = [r for r in rows if r['status'] == 'done']
  if not done:
    return None
  best = min(done, key=lambda r: r['val_error_mean'])  # Ties: grid order.
  tied = [r for r in done if r['val_error_mean'] == best['val_error_mean']]
  return {'architecture': best['architecture'],
          'tied_on_validation': [r['architecture'] for r in tied],
          'tied_test_error_range': [min(r['test_error_mean'] for r in tied),
                                    max(r['test_error_mean'] for r in tied)],
          'num_candidates': sum(r['num_candidates'] for r in rows),
          'val_error_mean': best['val_error_mean'],
          'test_error_mean': best['test_error_mean'],
          'val_minus_test': best['val_minus_test']}


def _matched(rows, deep_row):
  """The one-hidden-layer row matched to `deep_row`, or None."""
  return next((m for m in rows
               if f'matched:{deep_row["architecture"]}' in m['roles']), None)


def seide_table(rows) -> str:
  """Seide et al. 2011's layout: each deep net beside its matched shallow net."""
  err = lambda r: (report.pct(r['test_error_mean'], r['test_error_std'])
                   if r['status'] == 'done' else 'diverged')
  out = []
  for r in rows:
    if 'deep' not in r['roles']:
      continue
    match = _matched(rows, r)
    out.append([r['architecture'], f'{r["param_count"]:,}', err(r),
                match['architecture'] if match else '',
                f'{match["param_count"]:,}' if match else '',
                err(match) if match else ''])
  return report.markdown_table(
      ['L x N', 'params', 'test err %', '1 x N (matched)', 'params',
       'test err %'], out)


def _sampling_note(rows, ds) -> str:
  done = [r for r in rows if r['status'] == 'done']
  if not done:
    return ''
  p = float(np.median([r['test_error_mean'] for r in done]))
  se = lambda n: 100 * np.sqrt(p * (1 - p) / n)
  return (f'at the median test error ({100 * p:.1f}%) the binomial standard '
          f'error is ±{se(ds["validation"]):.2f} points on {ds["validation"]} '
          f'validation images and ±{se(ds["test"]):.2f} on {ds["test"]} test '
          'images, and every architecture shares the same two splits.')


def verdict(rows) -> str:
  """Deep vs matched shallow, pair by pair, said plainly either way."""
  pairs = []
  for r in rows:
    m = _matched(rows, r)
    if 'deep' in r['roles'] and m and r['status'] == m['status'] == 'done':
      pairs.append((r, m))
  if not pairs:
    return 'No deep net has a trained matched shallow net to compare with.'
  wins = [(d, s) for d, s in pairs if d['test_error_mean'] < s['test_error_mean']]
  clear = [(d, s) for d, s in pairs
           if abs(d['test_error_mean'] - s['test_error_mean'])
           > np.hypot(d['test_error_std'], s['test_error_std'])]
  clear_wins = [p for p in clear if p in wins]
  return (f'Deep beat its parameter-matched one-hidden-layer net in '
          f'{len(wins)} of {len(pairs)} pairs on test error; the difference '
          f'exceeded the seeds\' combined spread in {len(clear)} pair(s), '
          f'{len(clear_wins)} of them in favour of depth.')


def baseline_note(summary) -> str:
  """Logistic regression beside the best net: how linear the task is, and
  so how much room depth has."""
  base = summary.get('linear_baseline')
  done = [r for r in summary['architectures'] if r['status'] == 'done']
  if not base or not done:
    return ''
  if base['status'] != 'done':
    return 'Logistic regression diverged for every learning rate.'
  best = min(done, key=lambda r: r['test_error_mean'])
  return (f'Logistic regression ({base["param_count"]:,} parameters), the '
          f'"how linear is this task" baseline: test error '
          f'{report.pct(base["test_error_mean"], base["test_error_std"])}%, '
          f'against {report.pct(best["test_error_mean"], best["test_error_std"])}'
          f'% for the best net here ({best["architecture"]}). The gap between '
          'the two is all the room that hidden layers, deep or shallow, have '
          'on this task.')


def full_table(rows) -> str:
  out = []
  for r in sorted(rows, key=lambda r: (r['depth'], r['param_count'])):
    if r['status'] != 'done':
      out.append([r['architecture'], f'{r["param_count"]:,}', 'diverged', '',
                  '', '', r['num_candidates'], _roles(r)])
      continue
    out.append([r['architecture'], f'{r["param_count"]:,}',
                report.pct(r['val_error_mean'], r['val_error_std']),
                report.pct(r['test_error_mean'], r['test_error_std']),
                f'{100 * r["val_minus_test"]:+.2f}', f'{r["learning_rate"]:g}',
                r['num_candidates'], _roles(r)])
  return report.markdown_table(
      ['layers x units', 'params', 'val err %', 'test err %', 'val − test',
       'picked lr', 'candidates', 'roles (target, mismatch)'], out)


def _roles(row) -> str:
  mismatch = {m['role']: m for m in row.get('matching', [])}
  return ', '.join(
      f'{role} ({mismatch[role]["target"]:,}, '
      f'{100 * mismatch[role]["relative_mismatch"]:+.2f}%)'
      if role in mismatch else role for role in row['roles'])


def render_markdown(summary) -> str:
  rows, ds = summary['architectures'], summary['dataset']
  seeds = len(summary['seeds'])
  lines = [
      f'# Deep vs shallow at matched parameter counts: {ds["name"]}', '',
      f'Train {ds["train"]}, validation {ds["validation"]} (carved from '
      f'train), test {ds["test"]}. Mean ± standard deviation over {seeds} '
      'seeds (replicates). Each architecture\'s learning rate was picked on '
      'validation error; test was read once, for the picked models.', '',
      '## Deep nets beside their parameter-matched one-hidden-layer nets', '',
      seide_table(rows), '', verdict(rows), '', baseline_note(summary), '',
      '## Every architecture', '',
      full_table(rows), '',
      '`val − test` below zero means the validation error of the picked model '
      'was optimistic. Two things select on validation here: the learning '
      f'rate (the candidates column) and early stopping (the best of '
      f'{summary["config"]["num_epochs"]} epochs), and picking a minimum of '
      'noisy numbers biases it low. The gap also holds plain sampling noise: '
      + _sampling_note(rows, ds), '']
  overall = summary['overall_pick']
  if overall:
    lines += [
        f'Picking the architecture as well ({overall["num_candidates"]} '
        f'candidates in all) selects {overall["architecture"]}: validation '
        f'{report.pct(overall["val_error_mean"])}%, test '
        f'{report.pct(overall["test_error_mean"])}% (val − test '
        f'{100 * overall["val_minus_test"]:+.2f}).'
        + (f' {len(overall["tied_on_validation"])} architectures tied on '
           'validation and the first in the grid was taken; their test errors '
           f'range from {report.pct(overall["tied_test_error_range"][0])}% to '
           f'{report.pct(overall["tied_test_error_range"][1])}%.'
           if len(overall.get('tied_on_validation', [])) > 1 else ''), '']
  if summary.get('mimic'):
    lines += [
        '## Do shallow nets really need to be deep? (Ba & Caruana 2014)', '',
        'Each deep net\'s parameter-matched one-hidden-layer net, trained a '
        'second time to mimic the deep net\'s logits (squared error on '
        'logits, on the same training inputs; no labels), next to the same '
        'net trained on labels. The teacher is the picked deep net of seed 0 '
        '(its own test error in the third column).', '',
        mimic_table(summary), '', mimic_verdict(summary), '',
        'Ba & Caruana 2014, TIMIT phone error rate (PER), for reference '
        '(deepvsshallow/reference/ba_caruana2014_timit.csv): the shallow net '
        'trained on labels 23.1%, the deep net 21.9%, the shallow net '
        'mimicking a deep teacher 21.6%, at about 12M parameters each.', '',
        reference_ba_caruana_table(), '']
  lines += [
      '## For reference: Seide et al. 2011 (Switchboard RT03S, WER %)', '',
      'Source: Seide, Li, Yu, Interspeech 2011; weights-only matching with 429 '
      'inputs and 9304 outputs (deepvsshallow/reference/seide2011_switchboard.csv).',
      '', reference_seide_table(), '',
      report.run_footer(summary), '']
  return '\n'.join(lines)


def reference_seide_table() -> str:
  rows = reference.load_csv('seide2011_switchboard.csv')
  deep = [r for r in rows if r['units'] == '2048']
  shallow = {r['layers'] + 'x' + r['units']: r for r in rows
             if r['units'] != '2048'}
  pairs = {'5': '1x3772', '7': '1x4634'}
  out = []
  for r in deep:
    m = shallow.get(pairs.get(r['layers'], ''))
    out.append([f'{r["layers"]}x2k', r['wer_percent'],
                m['layers'] + 'x' + m['units'] if m else '',
                m['wer_percent'] if m else ''])
  out.append(['', '', '1x16k', shallow['1x16384']['wer_percent']])
  return report.markdown_table(['L x N', 'WER %', '1 x N', 'WER %'], out)


def plot_results(summary, path: str) -> None:
  plt = report.pyplot()
  rows = [r for r in summary['architectures'] if r['status'] == 'done']
  fig, ax = plt.subplots(figsize=(8, 4.5))
  depths = sorted({r['depth'] for r in rows})
  for k, depth in enumerate(depths):
    pts = sorted((r for r in rows if r['depth'] == depth),
                 key=lambda r: r['param_count'])
    # Nets of one budget have the same count: dodge them by 1.5% per depth.
    dodge = 1 + 0.015 * (k - (len(depths) - 1) / 2)
    ax.errorbar([r['param_count'] * dodge for r in pts],
                [100 * r['test_error_mean'] for r in pts],
                yerr=[100 * r['test_error_std'] for r in pts],
                marker='o', capsize=3,
                label=f'{depth} hidden layer{"s" if depth > 1 else ""}')
  ax.set_xscale('log')
  ax.set_xlabel('parameters (points dodged sideways by depth)')
  ax.set_ylabel('test error (%)')
  ds = summary['dataset']['name']
  ax.set_title(f'{ds}: test error vs parameter count '
               f'(mean ± std over {len(summary["seeds"])} seeds)')
  ax.grid(True, which='both', alpha=0.3)
  ax.legend(loc='upper left', bbox_to_anchor=(1.01, 1))
  report.save_figure(fig, path)
  plt.close(fig)


def headline(summary) -> str:
  """The claim's verdict in one line (the lecture report's)."""
  return verdict(summary['architectures'])
