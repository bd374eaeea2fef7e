"""Ideal vs real's report: the table of real and ideal test losses, the
verdicts (does the gap grow with size? does depth reach a lower ideal
loss?), the figure and the headline, all from a summary."""

from __future__ import annotations

import collections
import dataclasses

import numpy as np

from deepvsshallow import report, runner, selection, stats

ANCHOR = 'The lecture\'s picture; no published table.'


@dataclasses.dataclass(frozen=True)
class Row:
  """One net trained on one training set (real or ideal), tested on the real
  test set: `scores` (test error per seed, the learning rate picked on
  validation error) and its test loss (cross-entropy) per seed."""
  data: str                             # 'real' or 'ideal'.
  family: str                           # 'deep' or 'shallow'.
  hidden_widths: tuple[int, ...]
  param_count: int
  train_examples: int
  num_epochs: int
  scores: runner.Scores
  test_loss_per_seed: tuple[float, ...] = ()

  @classmethod
  def from_json(cls, d: dict) -> 'Row':
    return cls(**{**d, 'hidden_widths': tuple(d['hidden_widths']),
                  'scores': runner.Scores.from_json(d['scores']),
                  'test_loss_per_seed': tuple(d['test_loss_per_seed'])})

  @property
  def test_loss_mean(self) -> float:
    return selection.mean_std(self.test_loss_per_seed)[0]

  @property
  def test_loss_std(self) -> float:
    return selection.mean_std(self.test_loss_per_seed)[1]


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
    out.append([family, 'x'.join(map(str, widths)), f'{r.param_count:,}',
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


def _counts(comparisons) -> collections.Counter:
  return collections.Counter(c.verdict for c in comparisons)


def _family_line(family, fam) -> str:
  """fam: [(param_count, pair)] in order of size."""
  gaps = [float(np.mean(_gap_per_seed(v))) for _, v in fam]
  steps = [(a, b, gap_grows(v, w)) for (a, v), (b, w) in zip(fam, fam[1:])]
  n = _counts(c for *_, c in steps)
  if n['supported'] == len(steps):
    how = 'it grows with the parameter count beyond the seeds\' spread at every step'
  else:
    how = (f'it grows beyond the seeds\' spread at {n["supported"]} of '
           f'{len(steps)} steps, shrinks beyond it at {n["contradicted"]}, '
           f'and is inconclusive at {n["inconclusive"]}')
  detail = '; '.join(
      f'{a:,} → {b:,}: ' + c.describe('larger', 'smaller', scale=1)
      for a, b, c in steps)
  return (f'{family}: the real − ideal loss gap goes '
          f'{" → ".join(f"{g:+.3f}" for g in gaps)} from {fam[0][0]:,} to '
          f'{fam[-1][0]:,} parameters: {how} (gap, {detail}).')


def verdict(rows: list[Row]) -> str:
  pairs = _pairs(rows)
  said = []
  for family in ('deep', 'shallow'):
    fam = sorted(((v['real'].param_count, v) for (f, _), v in pairs.items()
                  if f == family), key=lambda t: t[0])
    if len(fam) >= 2:
      said.append(_family_line(family, fam))
  ideal = {(f, v['real'].param_count): v['ideal']
           for (f, _), v in pairs.items()}
  deep = sorted(((n, r) for (f, n), r in ideal.items() if f == 'deep'),
                key=lambda t: t[0])
  shallow = sorted(((n, r) for (f, n), r in ideal.items() if f == 'shallow'),
                   key=lambda t: t[0])
  if deep and shallow:
    matched = [(dn, sn, deep_reaches_lower(d, s))
               for (dn, d), (sn, s) in zip(deep, shallow)]
    n = _counts(c for *_, c in matched)
    low = lambda fam: min(fam, key=lambda t: t[1].test_loss_mean)
    detail = '; '.join(f'{dn:,} vs {sn:,} params: '
                       + c.describe('deep', 'shallow', scale=1)
                       for dn, sn, c in matched)
    said.append(
        f'With ideal data, the deep net has the lower test loss beyond the '
        f'seeds\' spread in {n["supported"]} of {len(matched)} '
        f'parameter-matched pairs, the higher in {n["contradicted"]}, '
        f'inconclusive in {n["inconclusive"]} (test loss, {detail}); the '
        f'lowest ideal loss is {low(deep)[1].test_loss_mean:.3f} for deep '
        f'({low(deep)[0]:,} params) and '
        f'{low(shallow)[1].test_loss_mean:.3f} for shallow '
        f'({low(shallow)[0]:,} params).')
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
      'difference of the means with ± 2 standard errors over seeds; '
      '"supported" when that interval excludes 0.', '',
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
  """The claim's verdict in one line (the lecture report's)."""
  return ' '.join(line[2:] for line in verdict(rows_of(summary)).splitlines())


def console(summary) -> str:
  """What the run prints at the end."""
  rows = rows_of(summary)
  return results_table(rows) + '\n\n' + verdict(rows)
