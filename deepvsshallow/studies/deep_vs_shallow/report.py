"""Deep vs shallow's report: the Seide et al. 2011-style table, every
architecture, the logistic baseline, the mimic (Ba & Caruana 2014), the
verdicts, the figure and the headline, all from a summary (its rows rebuilt
as `Row`, `Mimic`, `Baseline` and `OverallPick`)."""

from __future__ import annotations

import collections
import dataclasses

import numpy as np

from deepvsshallow import reference, report, runner, stats


# ------------------------------------------------- the typed rows


@dataclasses.dataclass(frozen=True)
class Role:
  """Why an architecture is in the grid: a deep net (depth x width), the
  one-hidden-layer net matched to the deep net `matched_to` (e.g. '5x128'),
  or the widest net of its depth within `budget` parameters. `target` and
  `relative_mismatch`: the count it was matched to (the deep net's, or the
  budget) under the matching convention (config.count_biases), and how far
  its own count is from it; None for a deep net."""
  kind: str                             # 'deep', 'matched' or 'budget'.
  matched_to: str | None = None         # 'matched': the deep net's name.
  budget: int | None = None             # 'budget': the parameter budget.
  target: int | None = None
  relative_mismatch: float | None = None

  @property
  def label(self) -> str:
    """'deep', 'matched:5x128' or 'budget:40000' (the trial records')."""
    if self.kind == 'matched':
      return f'matched:{self.matched_to}'
    if self.kind == 'budget':
      return f'budget:{self.budget}'
    return self.kind

  @classmethod
  def from_json(cls, d: dict) -> 'Role':
    return cls(**d)


@dataclasses.dataclass(frozen=True)
class Row:
  """One architecture of the grid, its roles and its picked scores."""
  architecture: str                     # e.g. '2x32'.
  depth: int
  hidden_widths: tuple[int, ...]
  roles: tuple[Role, ...]
  param_count: int
  scores: runner.Scores

  @classmethod
  def from_json(cls, d: dict) -> 'Row':
    return cls(**{**d, 'hidden_widths': tuple(d['hidden_widths']),
                  'roles': tuple(Role.from_json(r) for r in d['roles']),
                  'scores': runner.Scores.from_json(d['scores'])})

  @property
  def is_deep(self) -> bool:
    return any(r.kind == 'deep' for r in self.roles)

  def is_matched_to(self, deep: str) -> bool:
    return any(r.kind == 'matched' and r.matched_to == deep
               for r in self.roles)

  @property
  def val_minus_test(self) -> float:
    return self.scores.val_mean - self.scores.test_mean


@dataclasses.dataclass(frozen=True)
class Mimic:
  """A matched shallow net trained to mimic its deep net's logits (Ba &
  Caruana 2014). `scores` holds its test error on the true labels per seed
  (its own validation metric is the logit error it was picked on,
  `val_logit_mse_per_seed`, so `scores.val_per_seed` is empty)."""
  architecture: str                     # The shallow net, e.g. '1x53'.
  teacher: str                          # Its deep net, e.g. '2x32'.
  param_count: int
  scores: runner.Scores
  val_logit_mse_per_seed: tuple[float, ...] = ()
  teacher_test_error: float | None = None   # The teacher (seed 0) alone.
  agreement_per_seed: tuple[float, ...] = ()  # Test predictions equal to its teacher's.

  @classmethod
  def from_json(cls, d: dict) -> 'Mimic':
    return cls(**{**d, 'scores': runner.Scores.from_json(d['scores']),
                  'val_logit_mse_per_seed': tuple(d['val_logit_mse_per_seed']),
                  'agreement_per_seed': tuple(d['agreement_per_seed'])})

  @property
  def agreement_mean(self) -> float:
    return float(np.mean(self.agreement_per_seed))


@dataclasses.dataclass(frozen=True)
class Baseline:
  """Logistic regression: how linear the task is."""
  param_count: int
  scores: runner.Scores

  @classmethod
  def from_json(cls, d: dict) -> 'Baseline':
    return cls(d['param_count'], runner.Scores.from_json(d['scores']))


@dataclasses.dataclass(frozen=True)
class OverallPick:
  """Picking the architecture too: the winner's val error is more optimistic
  still, because it is the minimum over every architecture's candidates."""
  architecture: str
  tied_on_validation: tuple[str, ...]
  tied_test_error_range: tuple[float, float]
  num_candidates: int
  val_error_mean: float
  test_error_mean: float
  val_minus_test: float

  @classmethod
  def from_json(cls, d: dict) -> 'OverallPick':
    return cls(**{**d, 'tied_on_validation': tuple(d['tied_on_validation']),
                  'tied_test_error_range': tuple(d['tied_test_error_range'])})


def overall_pick(rows: list[Row]) -> OverallPick | None:
  """The best architecture on validation over every one that trained (ties:
  the first in the grid)."""
  done = [r for r in rows if r.scores.done]
  if not done:
    return None
  best = min(done, key=lambda r: r.scores.val_mean)  # Ties: grid order.
  tied = [r for r in done if r.scores.val_mean == best.scores.val_mean]
  return OverallPick(
      architecture=best.architecture,
      tied_on_validation=tuple(r.architecture for r in tied),
      tied_test_error_range=(min(r.scores.test_mean for r in tied),
                             max(r.scores.test_mean for r in tied)),
      num_candidates=sum(r.scores.num_candidates for r in rows),
      val_error_mean=best.scores.val_mean,
      test_error_mean=best.scores.test_mean,
      val_minus_test=best.val_minus_test)


def rows_of(summary) -> list[Row]:
  return [Row.from_json(r) for r in summary['architectures']]


def mimics_of(summary) -> list[Mimic]:
  return [Mimic.from_json(m) for m in summary.get('mimic') or []]


def baseline_of(summary) -> Baseline | None:
  base = summary.get('linear_baseline')
  return None if base is None else Baseline.from_json(base)


def overall_pick_of(summary) -> OverallPick | None:
  pick = summary.get('overall_pick')
  return None if pick is None else OverallPick.from_json(pick)


# ------------------------------------------------- the report


def anchor() -> str:
  """The published numbers (reference/seide2011_switchboard.csv and
  reference/ba_caruana2014_timit.csv)."""
  wer = {(r['layers'], r['units']): r['wer_percent']
         for r in reference.load_csv('seide2011_switchboard.csv')}
  per = {r['model']: r['per_percent']
         for r in reference.load_csv('ba_caruana2014_timit.csv')}
  return (f'Seide et al. 2011 (Switchboard): 5x2k {wer[("5", "2048")]}% WER '
          f'vs 1x3772 {wer[("1", "3772")]}%; Ba & Caruana 2014 (TIMIT): '
          f'shallow {per["SNN-8k"]}%, deep {per["DNN 3x2k"]}%, shallow '
          f'mimic {per["SNN-MIMIC-8k"]}% phone error.')


def _err(r: Row | Mimic) -> str:
  return (report.pct(r.scores.test_mean, r.scores.test_std)
          if r.scores.done else 'diverged')


def _beats(a: Row | Mimic, b: Row | Mimic) -> stats.Comparison:
  """The claim "a has the lower test error than b", on each seed's test
  error (a row of either side: an architecture or a mimic)."""
  return stats.compare_seeds(a.scores.test_per_seed, b.scores.test_per_seed,
                             higher_is_better=False)


def _describe(c: stats.Comparison, a: str, b: str) -> str:
  return 'test error, ' + c.describe(a, b, scale=100, unit='points')


# ------------------------------------------------- Ba & Caruana 2014: mimic


def mimic_table(rows: list[Row], mimics: list[Mimic]) -> str:
  by = {r.architecture: r for r in rows}
  out = []
  for m in mimics:
    deep, shallow = by[m.teacher], by[m.architecture]
    out.append([m.teacher, _err(deep),
                report.pct(m.teacher_test_error) if m.scores.done else '',
                m.architecture, f'{m.param_count:,}', _err(shallow), _err(m),
                f'{100 * m.agreement_mean:.1f}' if m.scores.done else ''])
  return report.markdown_table(
      ['deep (teacher)', 'deep test err %', 'teacher (seed 0) %',
       'shallow', 'params', 'shallow on labels %', 'shallow mimic %',
       'mimic agrees with teacher %'], out)


def mimic_outcome(deep: Row, shallow: Row, mimic: Mimic) -> tuple[str, dict]:
  """What mimicking did to one deep net's gap, on each seed's test error:

    no_gap   the deep net does not beat its matched net on labels (nothing
             to close);
    no_help  the mimic does not beat the same net trained on labels;
    closed   it does, and the deep net no longer beats the mimic;
    partly   it does, and the deep net still beats the mimic.

  Returns (outcome, {'gap', 'help', 'left'}: the comparisons)."""
  c = {'gap': _beats(deep, shallow), 'help': _beats(mimic, shallow),
       'left': _beats(deep, mimic)}
  if c['gap'].verdict != 'supported':
    return 'no_gap', c
  if c['help'].verdict != 'supported':
    return 'no_help', c
  return ('closed' if c['left'].verdict != 'supported' else 'partly'), c


def mimic_verdict(rows: list[Row], mimics: list[Mimic]) -> str:
  by = {r.architecture: r for r in rows}
  said = []
  for m in mimics:
    deep, shallow = by[m.teacher], by[m.architecture]
    if not (m.scores.done and deep.scores.done and shallow.scores.done):
      continue
    outcome, c = mimic_outcome(deep, shallow, m)
    pct = lambda r: report.pct(r.scores.test_mean)
    levels = (f'mimic {pct(m)}%, shallow on labels {pct(shallow)}%, deep '
              f'{pct(deep)}%')
    head = f'{m.architecture} vs {m.teacher}'
    gap = shallow.scores.test_mean - deep.scores.test_mean
    if outcome == 'no_gap':
      said.append(f'{head}: no gap beyond the seeds\' spread to close '
                  f'({_describe(c["gap"], "deep", "shallow")}); {levels}.')
    elif outcome == 'no_help':
      said.append(f'{head}: mimicking did not help beyond the seeds\' '
                  f'spread ({_describe(c["help"], "mimic", "shallow")}); '
                  f'{levels}.')
    elif outcome == 'closed':
      said.append(f'{head}: the mimic closed the {100 * gap:.2f}-point gap, '
                  'its teacher no better beyond the seeds\' spread '
                  f'({_describe(c["left"], "deep", "mimic")}); {levels}.')
    else:
      closed = shallow.scores.test_mean - m.scores.test_mean
      said.append(f'{head}: mimicking closed {100 * closed / gap:.0f}% of '
                  f'the {100 * gap:.2f}-point gap '
                  f'({_describe(c["help"], "mimic", "shallow")}; '
                  f'{c["left"].describe("deep", "mimic", scale=100, unit="points")}'
                  f'); {levels}.')
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


# ------------------------------------------------- Deep vs matched shallow


def _matched(rows: list[Row], deep_row: Row) -> Row | None:
  """The one-hidden-layer row matched to `deep_row`, or None."""
  return next((m for m in rows if m.is_matched_to(deep_row.architecture)),
              None)


def seide_table(rows: list[Row]) -> str:
  """Seide et al. 2011's layout: each deep net beside its matched shallow net."""
  out = []
  for r in rows:
    if not r.is_deep:
      continue
    match = _matched(rows, r)
    out.append([r.architecture, f'{r.param_count:,}', _err(r),
                match.architecture if match else '',
                f'{match.param_count:,}' if match else '',
                _err(match) if match else ''])
  return report.markdown_table(
      ['L x N', 'params', 'test err %', '1 x N (matched)', 'params',
       'test err %'], out)


def _sampling_note(rows: list[Row], ds) -> str:
  done = [r for r in rows if r.scores.done]
  if not done:
    return ''
  p = float(np.median([r.scores.test_mean for r in done]))
  se = lambda n: 100 * np.sqrt(p * (1 - p) / n)
  return (f'at the median test error ({100 * p:.1f}%) the binomial standard '
          f'error is ±{se(ds["validation"]):.2f} points on {ds["validation"]} '
          f'validation images and ±{se(ds["test"]):.2f} on {ds["test"]} test '
          'images, and every architecture shares the same two splits.')


def depth_pairs(rows: list[Row]) -> list[tuple[Row, Row, stats.Comparison]]:
  """(deep row, its matched shallow row, the comparison of the claim "the
  deep net has the lower test error") for every pair that both trained."""
  out = []
  for r in rows:
    m = _matched(rows, r)
    if r.is_deep and m and r.scores.done and m.scores.done:
      out.append((r, m, _beats(r, m)))
  return out


def _verdict_line(pairs) -> str:
  if not pairs:
    return 'No deep net has a trained matched shallow net to compare with.'
  n = collections.Counter(c.verdict for *_, c in pairs)
  return (f'Deep beat its parameter-matched one-hidden-layer net beyond the '
          f'seeds\' spread in {n["supported"]} of {len(pairs)} pairs on '
          f'test error; it lost beyond it in {n["contradicted"]}, and '
          f'{n["inconclusive"]} were inconclusive.')


def verdict(rows: list[Row]) -> str:
  """Deep vs matched shallow, pair by pair, said plainly either way."""
  pairs = depth_pairs(rows)
  lines = [f'- {d.architecture} vs {s.architecture}: '
           + _describe(c, 'deep', 'shallow') + '.' for d, s, c in pairs]
  return '\n'.join([_verdict_line(pairs)] + ([''] + lines if lines else []))


def baseline_note(baseline: Baseline | None, rows: list[Row]) -> str:
  """Logistic regression beside the best net: how linear the task is, and
  so how much room depth has."""
  done = [r for r in rows if r.scores.done]
  if not baseline or not done:
    return ''
  if not baseline.scores.done:
    return 'Logistic regression diverged for every learning rate.'
  best = min(done, key=lambda r: r.scores.test_mean)
  return (f'Logistic regression ({baseline.param_count:,} parameters), the '
          f'"how linear is this task" baseline: test error '
          f'{report.pct(baseline.scores.test_mean, baseline.scores.test_std)}%, '
          f'against {report.pct(best.scores.test_mean, best.scores.test_std)}'
          f'% for the best net here ({best.architecture}). The gap between '
          'the two is all the room that hidden layers, deep or shallow, have '
          'on this task.')


def full_table(rows: list[Row]) -> str:
  out = []
  for r in sorted(rows, key=lambda r: (r.depth, r.param_count)):
    sc = r.scores
    if not sc.done:
      out.append([r.architecture, f'{r.param_count:,}', 'diverged', '',
                  '', '', sc.num_candidates, _roles(r)])
      continue
    out.append([r.architecture, f'{r.param_count:,}',
                report.pct(sc.val_mean, sc.val_std),
                report.pct(sc.test_mean, sc.test_std),
                f'{100 * r.val_minus_test:+.2f}', f'{sc.learning_rate:g}',
                sc.num_candidates, _roles(r)])
  return report.markdown_table(
      ['layers x units', 'params', 'val err %', 'test err %', 'val − test',
       'picked lr', 'candidates', 'roles (target, mismatch)'], out)


def _roles(row: Row) -> str:
  return ', '.join(
      f'{role.label} ({role.target:,}, {100 * role.relative_mismatch:+.2f}%)'
      if role.target is not None else role.label for role in row.roles)


def console(summary) -> str:
  """What the run prints at the end."""
  rows = rows_of(summary)
  return '\n\n'.join(filter(None, [
      seide_table(rows), verdict(rows),
      baseline_note(baseline_of(summary), rows),
      mimic_verdict(rows, mimics_of(summary))]))


def render_markdown(summary) -> str:
  rows, ds = rows_of(summary), summary['dataset']
  mimics = mimics_of(summary)
  seeds = len(summary['seeds'])
  lines = [
      f'# Deep vs shallow at matched parameter counts: {ds["name"]}', '',
      f'Train {ds["train"]}, validation {ds["validation"]} (carved from '
      f'train), test {ds["test"]}. Mean ± standard deviation over {seeds} '
      'seeds (replicates). Each architecture\'s learning rate was picked on '
      'validation error; test was read once, for the picked models. A '
      'comparison gives the difference of the means with ± 2 standard errors '
      'over seeds; "supported" when that interval excludes 0.', '',
      '## Deep nets beside their parameter-matched one-hidden-layer nets', '',
      seide_table(rows), '', verdict(rows), '',
      baseline_note(baseline_of(summary), rows), '',
      '## Every architecture', '',
      full_table(rows), '',
      '`val − test` below zero means the validation error of the picked model '
      'was optimistic. Two things select on validation here: the learning '
      f'rate (the candidates column) and early stopping (the best of '
      f'{summary["config"]["num_epochs"]} epochs), and picking a minimum of '
      'noisy numbers biases it low. The gap also holds plain sampling noise: '
      + _sampling_note(rows, ds), '']
  overall = overall_pick_of(summary)
  if overall:
    lines += [
        f'Picking the architecture as well ({overall.num_candidates} '
        f'candidates in all) selects {overall.architecture}: validation '
        f'{report.pct(overall.val_error_mean)}%, test '
        f'{report.pct(overall.test_error_mean)}% (val − test '
        f'{100 * overall.val_minus_test:+.2f}).'
        + (f' {len(overall.tied_on_validation)} architectures tied on '
           'validation and the first in the grid was taken; their test errors '
           f'range from {report.pct(overall.tied_test_error_range[0])}% to '
           f'{report.pct(overall.tied_test_error_range[1])}%.'
           if len(overall.tied_on_validation) > 1 else ''), '']
  if mimics:
    lines += [
        '## Do shallow nets really need to be deep? (Ba & Caruana 2014)', '',
        'Each deep net\'s parameter-matched one-hidden-layer net, trained a '
        'second time to mimic the deep net\'s logits (squared error on '
        'logits, on the same training inputs; no labels), next to the same '
        'net trained on labels. The teacher is the picked deep net of seed 0 '
        '(its own test error in the third column).', '',
        mimic_table(rows, mimics), '', mimic_verdict(rows, mimics), '',
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
  rows = [r for r in rows_of(summary) if r.scores.done]
  fig, ax = plt.subplots(figsize=(8, 4.5))
  depths = sorted({r.depth for r in rows})
  for k, depth in enumerate(depths):
    pts = sorted((r for r in rows if r.depth == depth),
                 key=lambda r: r.param_count)
    # Nets of one budget have the same count: dodge them by 1.5% per depth.
    dodge = 1 + 0.015 * (k - (len(depths) - 1) / 2)
    ax.errorbar([r.param_count * dodge for r in pts],
                [100 * r.scores.test_mean for r in pts],
                yerr=[100 * r.scores.test_std for r in pts],
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
  return _verdict_line(depth_pairs(rows_of(summary)))
