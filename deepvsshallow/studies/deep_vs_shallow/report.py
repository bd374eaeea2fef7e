"""Deep vs shallow's report: the Seide et al. 2011-style table, every
architecture, the logistic baseline, the mimic (Ba & Caruana 2014), the
verdicts, the figure and the headline, all from a summary (its rows rebuilt
as `Row`, `Mimic`, `Baseline` and `OverallPick`). The verdicts are decided
once, as typed values (`DepthClaim`, `MimicOutcome`), and rendered from
them: the verdict section and the headline say the same thing."""

from __future__ import annotations

import collections
import dataclasses

import numpy as np

from deepvsshallow import reference, report, runner, stats


# ------------------------------------------------- the typed rows


@dataclasses.dataclass(frozen=True)
class Role(runner.Record):
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


@dataclasses.dataclass(frozen=True)
class Row(runner.Record):
  """One architecture of the grid, its roles and its picked scores."""
  architecture: str                     # e.g. '2x32'.
  depth: int
  hidden_widths: tuple[int, ...]
  roles: tuple[Role, ...]
  param_count: int
  scores: runner.Scores

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
class Mimic(runner.Record):
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
  teacher_examples: str = ''                # Its errors per test example.
  agreement_per_seed: tuple[float, ...] = ()  # Test predictions equal to its teacher's.

  @property
  def agreement_mean(self) -> float:
    return float(np.mean(self.agreement_per_seed))


@dataclasses.dataclass(frozen=True)
class Baseline(runner.Record):
  """Logistic regression: how linear the task is."""
  param_count: int
  scores: runner.Scores


@dataclasses.dataclass(frozen=True)
class OverallPick(runner.Record):
  """Picking the architecture too: the winner's val error is more optimistic
  still, because it is the minimum over every architecture's candidates."""
  architecture: str
  tied_on_validation: tuple[str, ...]
  tied_test_error_range: tuple[float, float]
  num_candidates: int
  val_error_mean: float
  test_error_mean: float
  val_minus_test: float


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


def other_inits_of(summary) -> dict[str, list[Row]]:
  return {init: [Row.from_json(r) for r in rows]
          for init, rows in (summary.get('other_inits') or {}).items()}


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
          f'shallow {per["SNN-8k"]}%, deep {per["DNN 3x2k"]}%, and the '
          f'shallow net mimicking an ensemble of CNNs '
          f'({per["ECNN (teacher ensemble)"]}%) {per["SNN-MIMIC-8k"]}% phone '
          'error: level with the deep net, behind its teacher.')


def _err(r: Row | Mimic) -> str:
  return (report.pct(r.scores.test_mean, r.scores.test_std)
          if r.scores.done else 'diverged')


def anchor_ba() -> str:
  """Ba & Caruana 2014's Table 1, told right: the mimic level with the
  single deep net, behind the ensemble it learned from."""
  per = {r['model']: r for r in reference.load_csv('ba_caruana2014_timit.csv')}
  v = lambda k: per[k]['per_percent']
  return (f'the shallow net trained on labels {v("SNN-8k")}%, the deep net '
          f'{v("DNN 3x2k")}% (both {per["SNN-8k"]["params"]} parameters); the '
          f'same-size shallow net trained to mimic their teacher, an ensemble '
          f'of CNNs at {v("ECNN (teacher ensemble)")}%, reached '
          f'{v("SNN-MIMIC-8k")}%: level with the single deep net, and '
          f'{float(v("SNN-MIMIC-8k")) - float(v("ECNN (teacher ensemble)")):.1f}'
          ' points behind the teacher it mimicked.')


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


MIMIC_OUTCOMES = ('no_gap', 'no_help', 'unresolved', 'surpassed',
                  'narrowed')


@dataclasses.dataclass(frozen=True)
class MimicOutcome:
  """What mimicking did to one deep net's gap, decided once from three
  comparisons of test error (`stats.compare`, paired over the test
  examples): `gap` (the deep net, every seed, beats its matched shallow net
  trained on labels), `help` (the mimic beats that net) and `teacher` (the
  mimic against the one deep net it learned from, seed 0, a fixed model).
  `outcome`, one of MIMIC_OUTCOMES:

    no_gap      `gap` not supported: no gap the interval can see, or
                the shallow net ahead (`gap` contradicted);
    no_help     a gap, and `help` not supported;
    unresolved  gap and help supported; the interval of mimic − teacher
                holds 0: whether it reached its teacher, these runs cannot
                tell (not "reached");
    surpassed   gap and help supported, and the mimic beats its teacher;
    narrowed    gap and help supported, and the teacher still beats it.

  (Ba & Caruana 2014's own mimic, 21.6% PER, reached the single deep net's
  21.9% while staying 3 points behind the teacher it mimicked, an ensemble
  at 18.5%: "reaching the teacher" is the `teacher` comparison.)
  `gap_size` (shallow − deep) and `narrowed_by` (shallow − mimic) are in
  error (0.01 is a point)."""
  teacher_name: str
  student: str
  outcome: str
  gap: stats.Comparison
  help: stats.Comparison
  teacher: stats.Comparison | None

  @property
  def gap_size(self) -> float:
    return -self.gap.difference

  @property
  def narrowed_by(self) -> float:
    return -self.help.difference


def versus_teacher(mimic: Mimic) -> stats.Comparison | None:
  """The claim "the mimic has the lower test error than the teacher it
  learned from" (one fixed model: its seed noise is not counted)."""
  student = mimic.scores.test_per_example
  if not mimic.teacher_examples or student is None or len(student) < 2:
    return None
  return stats.compare(student, runner.decode_examples(
      mimic.teacher_examples), higher_is_better=False, fixed_b=True)


def mimic_outcome(deep: Row, shallow: Row, mimic: Mimic) -> MimicOutcome:
  gap, help_ = runner.compare(deep.scores, shallow.scores), runner.compare(
      mimic.scores, shallow.scores)
  teacher = versus_teacher(mimic)
  if gap.verdict != 'supported':
    outcome = 'no_gap'
  elif help_.verdict != 'supported':
    outcome = 'no_help'
  else:
    outcome = {None: 'unresolved', 'inconclusive': 'unresolved',
               'supported': 'surpassed', 'contradicted': 'narrowed'}[
                   teacher and teacher.verdict]
  return MimicOutcome(deep.architecture, shallow.architecture, outcome,
                      gap, help_, teacher)


def mimic_outcomes(rows: list[Row],
                   mimics: list[Mimic]) -> list[tuple[MimicOutcome, Mimic]]:
  """Every mimic whose teacher, shallow net and own training finished."""
  by = {r.architecture: r for r in rows}
  out = []
  for m in mimics:
    deep, shallow = by[m.teacher], by[m.architecture]
    if m.scores.done and deep.scores.done and shallow.scores.done:
      out.append((mimic_outcome(deep, shallow, m), m))
  return out


def mimic_said(o: MimicOutcome) -> str:
  """One mimic's verdict, from its outcome alone."""
  d = _describe
  if o.outcome == 'no_gap':
    gap = ('the shallow net is ahead, no gap to close'
           if o.gap.verdict == 'contradicted' else
           'no gap the interval can tell apart')
    return (f'{gap} ('
            + d(o.gap, 'deep', 'shallow') + '); against the same net on '
            'labels, ' + d(o.help, 'mimic', 'shallow') + (
                f'; against its teacher, {d(o.teacher, "mimic", "teacher")}'
                if o.teacher else ''))
  if o.outcome == 'no_help':
    return (f'a gap of {100 * o.gap_size:.2f} points '
            f'({d(o.gap, "deep", "shallow")}); mimicking is not shown to '
            'narrow it '
            f'({d(o.help, "mimic", "shallow")})')
  head = (f'mimicking beat the same net trained on labels by '
          f'{100 * o.narrowed_by:.2f} points, against a '
          f'{100 * o.gap_size:.2f}-point gap to the deep net '
          f'({d(o.help, "mimic", "shallow")})')
  vs = (f' ({d(o.teacher, "mimic", "its teacher")})' if o.teacher else
        ' (no per-example errors of the teacher)')
  return head + {
      'unresolved': '; whether it reached the teacher it learned from, the '
                    'interval cannot tell',
      'surpassed': '; it beats the teacher it learned from',
      'narrowed': '; the teacher it learned from is still better'}[
                      o.outcome] + vs


def mimic_verdict(rows: list[Row], mimics: list[Mimic]) -> str:
  by = {r.architecture: r for r in rows}
  said = []
  for o, m in mimic_outcomes(rows, mimics):
    deep, shallow = by[m.teacher], by[m.architecture]
    pct = lambda r: report.pct(r.scores.test_mean)
    said.append(f'{o.student} vs {o.teacher_name}: {mimic_said(o)}; mimic '
                f'{pct(m)}%, shallow on labels {pct(shallow)}%, deep '
                f'{pct(deep)}%, teacher {report.pct(m.teacher_test_error)}%'
                + runner.edge_note(mimic=m.scores, shallow=shallow.scores,
                                   deep=deep.scores) + '.')
  if not said:
    return ''
  return '\n'.join(f'- {line}' for line in said) + (
      '\n\nA gap the mimic closes is one of learning: the shallow net can '
      'represent what the deep one computes but does not find it from labels. '
      'A gap it leaves open is one of representation at this size (or of '
      'what squared logit error can transfer). Every student learned from '
      'the same teacher (the deep net of seed 0), so these intervals speak '
      'of that teacher: the spread between deep nets of other seeds is not '
      'in them.')


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
      out.append((r, m, runner.compare(r.scores, m.scores)))
  return out


@dataclasses.dataclass(frozen=True)
class DepthClaim:
  """The claim "a deep net has the lower test error than its
  parameter-matched one-hidden-layer net", decided once from each pair's
  comparison (`depth_pairs`, paired over the test examples): the verdict
  section and the headline are both rendered from it. `verdict` (one of
  stats.VERDICTS): supported when every pair supports it, contradicted when
  every pair contradicts it, else inconclusive (mixed, or no pair): a claim
  about deep nets in general is not carried by some of them."""
  verdict: str
  pairs: tuple[tuple[str, str, stats.Comparison], ...]   # (deep, shallow, c)
  supported: int
  contradicted: int
  inconclusive: int

  @property
  def tested(self) -> bool:
    return bool(self.pairs)


def depth_claim(rows: list[Row]) -> DepthClaim:
  pairs = depth_pairs(rows)
  n = collections.Counter(c.verdict for *_, c in pairs)
  verdict = next((v for v in ('supported', 'contradicted')
                  if pairs and n[v] == len(pairs)), 'inconclusive')
  return DepthClaim(verdict, tuple((d.architecture, s.architecture, c)
                                   for d, s, c in pairs),
                    n['supported'], n['contradicted'], n['inconclusive'])


def claim_said(claim: DepthClaim) -> str:
  """The claim's line (the verdict section's first, and the headline)."""
  if not claim.tested:
    return ('No deep net has a trained matched shallow net to compare with: '
            'the claim (deep beats its parameter-matched one-hidden-layer '
            'net) is not tested.')
  return ('The claim (a deep net has the lower test error than its '
          'parameter-matched one-hidden-layer net): '
          f'{claim.verdict}. Of {len(claim.pairs)} '
          f'pair{"" if len(claim.pairs) == 1 else "s"}, the interval of deep '
          f'− shallow favours deep in {claim.supported}, shallow in '
          f'{claim.contradicted}, and holds 0 in {claim.inconclusive}.')


def init_claims(summary) -> dict[str, DepthClaim]:
  """The claim under each initialisation: the main grid's, then the deep
  nets and their matched nets trained again under each other one."""
  out = {summary.get('init', 'zero_bias'): depth_claim(rows_of(summary))}
  for init, rows in (summary.get('other_inits') or {}).items():
    out[init] = depth_claim([Row.from_json(r) for r in rows])
  return out


def inits_said(claims: dict[str, DepthClaim]) -> str:
  """'Under the torch init: supported (4 of 4 pairs); the inits agree.'"""
  if len(claims) < 2:
    return ''
  parts = [f'{init} init: {c.verdict} (of {len(c.pairs)} pairs, deep '
           f'favoured in {c.supported}, shallow in {c.contradicted})'
           for init, c in claims.items()]
  verdicts = {c.verdict for c in claims.values()}
  counts = {(c.supported, c.contradicted) for c in claims.values()}
  said = ('the inits agree' if len(verdicts) == len(counts) == 1 else
          'the inits give the same verdict, from different pairs'
          if len(verdicts) == 1 else 'the inits disagree')
  return f'Under each initialisation, {"; ".join(parts)}: {said}.'


def verdict(rows: list[Row], other_inits: dict | None = None) -> str:
  """Deep vs matched shallow, pair by pair, said plainly either way."""
  claim = depth_claim(rows)
  by = {r.architecture: r for r in rows}
  lines = [f'- {d} vs {s}: ' + _describe(c, 'deep', 'shallow')
           + runner.edge_note(deep=by[d].scores, shallow=by[s].scores) + '.'
           for d, s, c in claim.pairs]
  for init, init_rows in (other_inits or {}).items():
    again = depth_claim(init_rows)
    by = {r.architecture: r for r in init_rows}
    lines += [f'- {d} vs {s}, {init} init: ' + _describe(
        c, 'deep', 'shallow') + runner.edge_note(
            deep=by[d].scores, shallow=by[s].scores) + '.'
              for d, s, c in again.pairs]
  return '\n'.join([claim_said(claim)] + ([''] + lines if lines else []))


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
      seide_table(rows), verdict(rows, other_inits_of(summary)),
      inits_said(init_claims(summary)),
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
      'validation error (a grid extended while the pick sat on an end of '
      'it); test was read once, for the picked models. A comparison gives '
      'the difference of the means with its 95% interval over both seeds '
      'and the shared test examples (stats.compare); "supported" when it '
      'excludes 0 in the claim\'s direction, "contradicted" the other way, '
      '"inconclusive" when it holds 0.', '',
      '## Deep nets beside their parameter-matched one-hidden-layer nets', '',
      seide_table(rows), '', verdict(rows, other_inits_of(summary)), '',
      inits_said(init_claims(summary)), '',
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
        '(deepvsshallow/reference/ba_caruana2014_timit.csv): ' + anchor_ba()
        + ' Their setting differs from ours: speech frames, a teacher that '
        'is an ensemble of 9 CNNs (not one deep MLP); ours mimics one deep '
        'MLP (seed 0) on the same training inputs.', '',
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
  said = inits_said(init_claims(summary))
  return claim_said(depth_claim(rows_of(summary))) + (
      f' {said}' if said else '')
