"""Ideal vs real's report: the table of real and ideal test losses, the
verdicts (does the gap grow with size? does depth reach a lower ideal
loss?), the figure and the headline, all from a summary. The verdicts are
decided once, as typed values (`Outcome`), and both the verdict section and
the headline are rendered from them."""

from __future__ import annotations

import collections
import dataclasses

import numpy as np

from deepvsshallow import report, runner, selection, stats

ANCHOR = 'The lecture\'s picture; no published table.'


@dataclasses.dataclass(frozen=True)
class Row(runner.Record):
  """One net trained on one training set (real or ideal), tested on the real
  test set: `scores` (test error per seed, the learning rate picked on
  validation error) and its test loss (cross-entropy) per seed. A shallow
  net's `matched_to` names the deep net its parameter count was matched to
  (that net's `name`, e.g. '16x16x16'); None for a deep net."""
  data: str                             # 'real' or 'ideal'.
  family: str                           # 'deep' or 'shallow'.
  hidden_widths: tuple[int, ...]
  param_count: int
  train_examples: int
  num_epochs: int
  scores: runner.Scores
  test_loss_per_seed: tuple[float, ...] = ()
  matched_to: str | None = None

  @property
  def name(self) -> str:
    """The hidden widths, e.g. '16x16x16' (the table's 'hidden')."""
    return net_name(self.hidden_widths)

  @property
  def test_loss_mean(self) -> float:
    return selection.mean_std(self.test_loss_per_seed)[0]

  @property
  def test_loss_std(self) -> float:
    return selection.mean_std(self.test_loss_per_seed)[1]


def net_name(hidden_widths) -> str:
  return 'x'.join(map(str, hidden_widths))


def rows_of(summary) -> list[Row]:
  return [Row.from_json(r) for r in summary['rows']]


def _pairs(rows: list[Row]) -> dict[tuple, dict[str, Row]]:
  """{(family, widths): {'real': row, 'ideal': row}} for finished rows."""
  out = {}
  for r in rows:
    if r.scores.done:
      out.setdefault((r.family, r.hidden_widths), {})[r.data] = r
  return {k: v for k, v in out.items() if len(v) == 2}


def results_table(rows: list[Row]) -> str:
  out = []
  for (family, widths), v in sorted(
      _pairs(rows).items(), key=lambda kv: (kv[0][0],
                                            kv[1]['real'].param_count)):
    r, i = v['real'], v['ideal']
    out.append([family, net_name(widths), f'{r.param_count:,}',
                f'{r.test_loss_mean:.3f} ± {r.test_loss_std:.3f}',
                f'{i.test_loss_mean:.3f} ± {i.test_loss_std:.3f}',
                f'{r.test_loss_mean - i.test_loss_mean:+.3f}',
                report.pct(r.scores.test_mean, r.scores.test_std),
                report.pct(i.scores.test_mean, i.scores.test_std)])
  return report.markdown_table(
      ['family', 'hidden', 'params', 'test loss (real)', 'test loss (ideal)',
       'real − ideal', 'test err % (real)', 'test err % (ideal)'], out)


def _gap_per_seed(pair) -> np.ndarray:
  """Each seed's real − ideal test loss (seed s of the real run beside seed
  s of the ideal run: independent runs, one gap value per seed)."""
  return np.subtract(pair['real'].test_loss_per_seed,
                     pair['ideal'].test_loss_per_seed)


def gap_grows(smaller, larger) -> stats.Comparison:
  """The claim "the larger net's real − ideal test-loss gap is the larger",
  for two nets of one family (each a {'real': row, 'ideal': row} pair)."""
  return stats.compare_seeds(_gap_per_seed(larger), _gap_per_seed(smaller),
                             higher_is_better=True)


def deep_reaches_lower(deep: Row, shallow: Row) -> stats.Comparison:
  """The claim "with ideal data, the deep net has the lower test loss than
  its parameter-matched shallow net", on each seed's ideal test loss."""
  return stats.compare_seeds(deep.test_loss_per_seed,
                             shallow.test_loss_per_seed,
                             higher_is_better=False)


def _claim_verdict(comparisons) -> str:
  """Supported when some comparison supports the claim and none contradicts
  it, contradicted the other way round, else inconclusive (also with
  none)."""
  n = collections.Counter(c.verdict for c in comparisons)
  won, lost = n['supported'], n['contradicted']
  return ('supported' if won and not lost else
          'contradicted' if lost and not won else 'inconclusive')


@dataclasses.dataclass(frozen=True)
class GapTrend:
  """One family's real − ideal loss gap against its size: each size's mean
  gap and, at each step to the next size, `gap_grows`. `verdict` is the
  claim "the gap grows with size" (`_claim_verdict` of the steps)."""
  family: str
  sizes: tuple[int, ...]                # Parameter counts, ascending.
  gaps: tuple[float, ...]               # Mean real − ideal test loss.
  steps: tuple[stats.Comparison, ...]   # sizes[i] -> sizes[i + 1].
  verdict: str

  def count(self, verdict: str) -> int:
    return sum(c.verdict == verdict for c in self.steps)


@dataclasses.dataclass(frozen=True)
class MatchedPair:
  """A deep net and the shallow net matched to it (`Row.matched_to`), both
  trained on real and ideal data: `deep_reaches_lower` on their ideal test
  losses."""
  deep: str
  shallow: str
  deep_params: int
  shallow_params: int
  comparison: stats.Comparison


@dataclasses.dataclass(frozen=True)
class Outcome:
  """Both claims, decided once. `depth_verdict`: the claim "with ideal data
  the deep net has the lower test loss than its matched shallow net"
  (`_claim_verdict` of the pairs). `lowest`: per family, the size with the
  lowest mean ideal test loss, (parameter count, that loss)."""
  trends: tuple[GapTrend, ...]           # Families with 2 sizes or more.
  pairs: tuple[MatchedPair, ...]
  depth_verdict: str
  lowest: dict[str, tuple[int, float]]

  def count(self, verdict: str) -> int:
    return sum(p.comparison.verdict == verdict for p in self.pairs)


def matched_pairs(rows: list[Row]) -> list[MatchedPair]:
  """Each shallow net with the deep net it was matched to (by name, not by
  position: a size that did not finish drops its own pair only), both with
  a finished real and ideal run, in the deep nets' order of size."""
  pairs = _pairs(rows)
  out = []
  for (family, widths), v in pairs.items():
    shallow = v['ideal']
    if family != 'shallow' or shallow.matched_to is None:
      continue
    deep = next((w['ideal'] for (f, ws), w in pairs.items()
                 if f == 'deep' and net_name(ws) == shallow.matched_to), None)
    if deep is not None:
      out.append(MatchedPair(deep.name, shallow.name, deep.param_count,
                             shallow.param_count,
                             deep_reaches_lower(deep, shallow)))
  return sorted(out, key=lambda p: p.deep_params)


def outcome(rows: list[Row]) -> Outcome:
  pairs = _pairs(rows)
  trends, lowest = [], {}
  for family in ('deep', 'shallow'):
    fam = sorted(((v['real'].param_count, v) for (f, _), v in pairs.items()
                  if f == family), key=lambda t: t[0])
    if fam:
      n, v = min(fam, key=lambda t: t[1]['ideal'].test_loss_mean)
      lowest[family] = (n, v['ideal'].test_loss_mean)
    if len(fam) >= 2:
      steps = tuple(gap_grows(v, w) for (_, v), (_, w) in zip(fam, fam[1:]))
      trends.append(GapTrend(
          family, tuple(n for n, _ in fam),
          tuple(float(np.mean(_gap_per_seed(v))) for _, v in fam), steps,
          _claim_verdict(steps)))
  matched = tuple(matched_pairs(rows))
  return Outcome(tuple(trends), matched,
                 _claim_verdict(p.comparison for p in matched), lowest)


def _trend_said(t: GapTrend) -> str:
  return (f'{t.family}: the real − ideal loss gap goes '
          f'{" → ".join(f"{g:+.3f}" for g in t.gaps)} from {t.sizes[0]:,} '
          f'to {t.sizes[-1]:,} parameters. The claim (it grows with size): '
          f'{t.verdict}: larger beyond the seeds\' spread at '
          f'{t.count("supported")} of {len(t.steps)} steps, smaller beyond '
          f'it at {t.count("contradicted")}, within it (inconclusive) at '
          f'{t.count("inconclusive")}')


def _depth_said(o: Outcome) -> str:
  return ('With ideal data, the claim (the deep net has the lower test loss '
          f'than its matched shallow net): {o.depth_verdict}: lower beyond '
          f'the seeds\' spread in {o.count("supported")} of {len(o.pairs)} '
          f'parameter-matched pairs, higher beyond it in '
          f'{o.count("contradicted")}, within it (inconclusive) in '
          f'{o.count("inconclusive")}')


def _lowest_said(o: Outcome) -> str:
  return '; '.join(f'the lowest ideal loss for {family} is {loss:.3f} '
                   f'({n:,} params)' for family, (n, loss) in o.lowest.items())


def verdict(rows: list[Row]) -> str:
  o = outcome(rows)
  said = []
  for t in o.trends:
    sizes = zip(t.sizes, t.sizes[1:], t.steps)
    said.append(_trend_said(t) + ' (gap, ' + '; '.join(
        f'{a:,} → {b:,}: ' + c.describe('larger', 'smaller', scale=1)
        for a, b, c in sizes) + ').')
  if o.pairs:
    said.append(_depth_said(o) + ' (test loss, ' + '; '.join(
        f'deep {p.deep} vs shallow {p.shallow}, {p.deep_params:,} vs '
        f'{p.shallow_params:,} params: '
        + p.comparison.describe('deep', 'shallow', scale=1)
        for p in o.pairs) + f'); {_lowest_said(o)}.')
  return '\n'.join(f'- {s}' for s in said)


def render_markdown(summary) -> str:
  cfg, rows = summary['config'], rows_of(summary)
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
      'each training set\'s own validation split. A comparison gives the '
      'difference of the means with its 95% Welch interval over seeds; '
      '"supported" when that interval excludes 0 in the claim\'s direction, '
      '"inconclusive" when it holds 0.', '',
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
  rows = [r for r in rows_of(summary) if r.scores.done]
  fig, axes = plt.subplots(1, 2, figsize=(11, 4))
  for ax, metric, scale, label in ((axes[0], 'loss', 1, 'test loss'),
                                   (axes[1], 'error', 100, 'test error (%)')):
    for family, color in (('deep', 'tab:blue'), ('shallow', 'tab:orange')):
      for data, style in (('real', '-'), ('ideal', '--')):
        pts = sorted((r for r in rows if r.family == family
                      and r.data == data), key=lambda r: r.param_count)
        mean_std = lambda r: ((r.test_loss_mean, r.test_loss_std)
                              if metric == 'loss' else
                              (r.scores.test_mean, r.scores.test_std))
        ax.errorbar([r.param_count for r in pts],
                    [scale * mean_std(r)[0] for r in pts],
                    yerr=[scale * mean_std(r)[1] for r in pts],
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
  """The claims' verdicts in one line (the lecture report's)."""
  o = outcome(rows_of(summary))
  said = [_trend_said(t) for t in o.trends]
  if o.pairs:
    said.append(_depth_said(o))
  if not said:
    return 'No family has two sizes and no deep net a matched shallow net ' \
        'that finished on both training sets: nothing to judge.'
  return '. '.join(said) + '.'



def console(summary) -> str:
  """What the run prints at the end."""
  rows = rows_of(summary)
  return results_table(rows) + '\n\n' + verdict(rows)
