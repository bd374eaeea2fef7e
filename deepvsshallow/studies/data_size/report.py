"""Where depth pays: the table, the per-budget regimes, the figure and the
headline, all from a summary.

At each parameter budget and each training-set size, the claim "the deep
net has the lower test error than its parameter-matched shallow net" is
`stats.compare` on their test errors, paired over the real test examples
(each seed's 0/1 error on each). Its verdict names the regime at that
size: supported (deep wins), inconclusive (a tie, as measured) or
contradicted (shallow wins). The verdicts are decided once, as typed values
(`Regime`), and the table, the verdict section and the headline are
rendered from them."""

from __future__ import annotations

import dataclasses

import numpy as np

from deepvsshallow import params, reference, report, runner, stats

WORDS = {'supported': 'deep wins', 'inconclusive': 'tie',
         'contradicted': 'shallow wins'}


# Seide et al. 2011's training data: 309 hours of Switchboard-I; at the
# usual 10 ms frame shift, 100 frames a second (one example per frame).
SEIDE_HOURS = 309
SEIDE_FRAMES = SEIDE_HOURS * 3600 * 100


def _seide_wer() -> tuple[str, str]:
  """Seide et al. 2011's WER (%) of 5x2048 and of the matched 1x3772
  (reference/seide2011_switchboard.csv)."""
  wer = {(r['layers'], r['units']): r['wer_percent']
         for r in reference.load_csv('seide2011_switchboard.csv')}
  return wer[('5', '2048')], wer[('1', '3772')]


def anchor() -> str:
  """Seide et al. 2011's matched pair, with its data regime."""
  deep, shallow = _seide_wer()
  return (f'Seide et al. 2011 (Switchboard, {SEIDE_HOURS} hours of training '
          f'speech, about 10^8 frames): 5x2k {deep}% WER vs 1x3772 '
          f'{shallow}% at the same parameter count, at one data size. No '
          'published curve across data sizes.')


@dataclasses.dataclass(frozen=True)
class Row(runner.Record):
  """One net trained on one training-set size to convergence, tested on
  the real test set: `scores` (test error per seed and per test example,
  the learning rate picked on validation error). `budget` names the deep
  net of its parameter budget (e.g. '32x32x32')."""
  family: str                           # 'deep' or 'shallow'.
  hidden_widths: tuple[int, ...]
  budget: str
  param_count: int
  train_examples: int
  num_epochs: int                       # The cap, in passes over its set.
  scores: runner.Scores
  convergence: runner.Convergence       # Patience in passes over its set.

  @property
  def name(self) -> str:
    return net_name(self.hidden_widths)

  @property
  def converged(self) -> bool:
    return self.convergence.converged


net_name = report.net_name


def rows_of(summary) -> list[Row]:
  return [Row.from_json(r) for r in summary['rows']]


@dataclasses.dataclass(frozen=True)
class Cell:
  """One budget at one size: both nets, and the comparison."""
  size: int
  deep: Row
  shallow: Row
  comparison: stats.Comparison

  @property
  def regime(self) -> str:
    return WORDS[self.comparison.verdict]


@dataclasses.dataclass(frozen=True)
class Regime:
  """One budget across sizes (ascending): where deep wins, ties, loses."""
  budget: str
  deep_params: int
  shallow_params: int
  cells: tuple[Cell, ...]

  def sizes(self, regime: str) -> list[int]:
    return [c.size for c in self.cells if c.regime == regime]


def regimes(rows: list[Row]) -> list[Regime]:
  """Each budget with both nets finished at two... or more sizes: the
  comparison at each size where both finished."""
  by = {}
  for r in rows:
    if r.scores.done:
      by.setdefault(r.budget, {}).setdefault(r.train_examples, {})[
          r.family] = r
  out = []
  for budget, sizes in by.items():
    cells = tuple(
        Cell(n, v['deep'], v['shallow'], stats.compare_or_no_interval(
            v['deep'].scores.test_per_example,
            v['shallow'].scores.test_per_example, higher_is_better=False))
        for n, v in sorted(sizes.items()) if len(v) == 2)
    if cells:
      out.append(Regime(budget, cells[0].deep.param_count,
                        cells[0].shallow.param_count, cells))
  return sorted(out, key=lambda g: g.deep_params)


def _edge(c: Cell) -> str:
  return runner.edge_note(**{f'{r.family} {r.name}': r.scores
                             for r in (c.deep, c.shallow)})


def _epochs(r: Row) -> str:
  return r.convergence.cell()


def results_table(rows: list[Row]) -> str:
  out = []
  for g in regimes(rows):
    for c in g.cells:
      out.append([
          f'{g.budget} vs {c.shallow.name}', f'{c.size:,}',
          report.pct(c.deep.scores.test_mean, c.deep.scores.test_std),
          report.pct(c.shallow.scores.test_mean, c.shallow.scores.test_std),
          c.comparison.describe('deep', 'shallow', scale=100)
          .split(' = ', 1)[1].rsplit(':', 1)[0],
          c.regime + ('' if not _edge(c) else ' (not bracketed)'),
          f'{_epochs(c.deep)}; {_epochs(c.shallow)}',
          f'{c.deep.scores.learning_rate:g}; '
          f'{c.shallow.scores.learning_rate:g}'])
  return report.markdown_table(
      ['budget (deep vs shallow)', 'N', 'deep test err %',
       'shallow test err %', 'deep − shallow, points [95%]', 'regime',
       'kept/stopped epochs (deep; shallow)', 'lr (deep; shallow)'], out)


def _list(sizes: list[int]) -> str:
  return ', '.join(f'{n:,}' for n in sizes) if sizes else 'none'


def _regime_line(g: Regime) -> str:
  said = '; '.join(f'{word} at N = {_list(g.sizes(word))}'
                   for word in WORDS.values() if g.sizes(word))
  edges = [f'N={c.size:,}{_edge(c)}' for c in g.cells if _edge(c)]
  capped = [f'{r.family} N={c.size:,}' for c in g.cells
            for r in (c.deep, c.shallow) if not r.converged]
  return (f'{g.budget} ({g.deep_params:,} params) vs {g.cells[0].shallow.name}'
          f' ({g.shallow_params:,}): {said}.'
          + (f' Not bracketed: {"; ".join(edges)}.' if edges else '')
          + (f' A member still improving at the cap: {", ".join(capped)}.'
             if capped else ''))


@dataclasses.dataclass(frozen=True)
class Trend:
  """One budget: is depth's edge larger at the smallest size than at the
  largest? The claim "(deep − shallow) is lower at the smallest N", on
  each seed's per-example difference (seed s of the deep net less seed s
  of the shallow one; the seeds are independent, so pairing them by index
  is one valid draw)."""
  budget: str
  small: int
  large: int
  comparison: stats.Comparison


def trends(rs: list[Regime]) -> list[Trend]:
  out = []
  for g in rs:
    if len(g.cells) < 2:
      continue
    first, last = g.cells[0], g.cells[-1]
    d = lambda c: (c.deep.scores.test_per_example
                   - c.shallow.scores.test_per_example)
    out.append(Trend(g.budget, first.size, last.size,
                     stats.compare_or_no_interval(
                         d(first), d(last), higher_is_better=False)))
  return out


def seide_examples_per_weight() -> float:
  """Frames per weight of Seide's 5x2048 net (input 429, 9,304 senones,
  weights only: the count reference/seide2011_switchboard.csv matches)."""
  return SEIDE_FRAMES / params.mlp_param_count(429, (2048,) * 5, 9304,
                                               biases=False)


def seide_sentence(rs: list[Regime]) -> str:
  """Plain sentences set beside Seide's regime and the lecture's claim,
  from what was measured: depth's edge at the smallest and the largest
  size (`trends`), and the regime at the size nearest Seide's examples per
  parameter."""
  if not rs:
    return ''
  ratio = seide_examples_per_weight()
  near = []
  for g in rs:
    target = ratio * g.deep_params
    c = min(g.cells, key=lambda c: abs(np.log(c.size / target)))
    near.append(f'{g.budget}: N ≈ {target:,.0f}, nearest measured '
                f'{c.size:,}: {c.regime}')
  shrink = '; '.join(
      f'{t.budget}: ' + t.comparison.describe(
          f'(deep − shallow) at {t.small:,}', f'at {t.large:,}', scale=100,
          unit='points') for t in trends(rs))
  return (f'The claim "depth\'s edge is largest where data is scarce" (this '
          'project\'s reading of the lecture\'s "deep nets overfit less"), '
          f'per budget: {shrink}. Seide et al. 2011 compared their matched '
          f'nets once, on {SEIDE_HOURS} hours of speech: about '
          f'{SEIDE_FRAMES:.1e} frames for 36.7M weights, {ratio:.1f} frames '
          'per weight (and frames 10 ms apart are far from independent '
          f'examples), where deep won by '
          f'{float(_seide_wer()[1]) - float(_seide_wer()[0]):.1f} points of '
          'WER. At that many examples per parameter here: '
          + '; '.join(near) + '.')


def verdict(rows: list[Row]) -> str:
  rs = regimes(rows)
  lines = [f'- {_regime_line(g)}' for g in rs]
  if rs:
    lines.append(f'- {seide_sentence(rs)}')
    k = sum(len(g.cells) for g in rs)
    lines.append(f'- {k} comparisons at 95% each: about {0.05 * k:.1f} '
                 'could fall outside their interval by chance alone, so a '
                 'lone win or loss among ties is weak evidence.')
  return '\n'.join(lines)


def _stopped(rows: list[Row]) -> str:
  done = [r for r in rows if r.scores.done]
  capped = [f'{r.name} N={r.train_examples:,}' for r in done
            if not r.converged]
  return (f'Every picked member stopped by patience in {len(done) - len(capped)}'
          f' of {len(done)} nets' + (f' (the cap stopped a member of: '
                                     f'{", ".join(capped)})' if capped else '')
          + '.')


def render_markdown(summary) -> str:
  cfg, rows = summary['config'], rows_of(summary)
  return '\n'.join([
      '# Where depth pays: deep vs shallow across training-set size '
      '(MNIST-1D)', '',
      f'Training sets of N = {_list(list(cfg["train_sizes"]))} examples, '
      f'each the first N of one pool of MNIST-1D generated with seed '
      f'{cfg["pool_seed"]} ({summary["pool_samples"]:,} samples), so the sets '
      'are nested (one draw of training data per size, shared by every seed '
      'and both nets); one validation set of '
      f'{summary["validation_examples"]:,} pool examples at every size (more '
      'than the smallest training sets: the pick and early stopping are '
      'equally reliable everywhere, which a practitioner with 1,000 '
      'examples would not have); every net tested on the pool\'s own test '
      f'split ({summary["test_examples"]:,} examples, the same generator as '
      'the published 1,000, which would leave intervals of about 2 points). '
      f'Each budget is a deep net of {cfg["deep_depth"]} hidden layers and '
      'the one-hidden-layer net with the nearest parameter count. '
      + report.convergence_note(
          cfg, metric='error', reference='the published MNIST-1D training '
          f'set ({summary["reference_examples"]:,} examples)',
          patience_steps=summary['patience_steps'],
          min_passes=summary['min_patience_passes'],
          cap_steps=summary['cap_steps'])
      + f' {_stopped(rows)} Learning rates '
      f'from {", ".join(f"{x:g}" for x in cfg["learning_rates"])}, extended '
      'until the pick is bracketed; '
      f'{cfg["num_seeds"]} seeds. Regime at each size: the claim "deep has '
      'the lower test error" by stats.compare (95% interval over seeds and '
      'test examples, paired over the examples): supported = deep wins, '
      'inconclusive = tie, contradicted = shallow wins.', '',
      results_table(rows), '', verdict(rows), '',
      report.run_footer(summary), ''])


def plot(summary, path: str) -> None:
  plt = report.pyplot()
  import matplotlib.ticker
  rows = rows_of(summary)
  rs = regimes(rows)
  fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
  colors = plt.rcParams['axes.prop_cycle'].by_key()['color']
  for i, g in enumerate(rs):
    color = colors[i % len(colors)]
    n = np.array([c.size for c in g.cells], float)
    d = np.array([c.comparison.difference for c in g.cells]) * 100
    lo = np.array([c.comparison.low for c in g.cells]) * 100
    hi = np.array([c.comparison.high for c in g.cells]) * 100
    finite = np.isfinite(lo) & np.isfinite(hi)
    shift = n * 1.04 ** (i - (len(rs) - 1) / 2)   # Bars side by side.
    axes[0].errorbar(shift, d, yerr=np.where(finite, [d - lo, hi - d], 0),
                     color=color, marker='o', capsize=3,
                     label=f'{g.budget} vs {g.cells[0].shallow.name} '
                           f'({g.deep_params:,} params)')
    for family, style in (('deep', '-'), ('shallow', '--')):
      rows_ = [getattr(c, family) for c in g.cells]
      axes[1].errorbar(n, [100 * r.scores.test_mean for r in rows_],
                       yerr=[100 * r.scores.test_std for r in rows_],
                       color=color, linestyle=style, marker='o', capsize=2,
                       label=f'{family} {rows_[0].name}')
  axes[0].axhline(0, color='black', linewidth=0.8)
  axes[0].set_ylabel('deep − shallow test error (points, 95% interval)')
  axes[0].set_title('below 0: deep wins; above: shallow wins')
  axes[1].set_ylabel('test error (%), mean ± std over seeds')
  axes[1].set_yscale('log')
  axes[1].yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
  axes[1].yaxis.set_minor_formatter(matplotlib.ticker.ScalarFormatter())
  sizes = sorted({r.train_examples for r in rows})
  for ax in axes:
    ax.set_xscale('log')
    ax.set_xticks(sizes, [f'{n / 1000:g}k' if n >= 1000 else str(n)
                          for n in sizes])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel('training examples N')
    ax.grid(True, which='both', alpha=0.3)
    ax.legend(fontsize=7)
  fig.subplots_adjust(wspace=0.3)
  fig.suptitle('MNIST-1D: deep vs parameter-matched shallow nets across '
               'training-set size (one generated test set)')
  report.save_figure(fig, path)
  plt.close(fig)


def headline(summary) -> str:
  """Each budget's regimes in one line (the lecture report's)."""
  rs = regimes(rows_of(summary))
  if not rs:
    return 'No budget has both nets finished at any size: nothing to judge.'
  return ' '.join(_regime_line(g) for g in rs)


def console(summary) -> str:
  rows = rows_of(summary)
  return results_table(rows) + '\n\n' + verdict(rows)
