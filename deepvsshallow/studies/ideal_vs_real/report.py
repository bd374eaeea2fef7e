"""Ideal vs real's report: the table of real and ideal test losses, the
verdicts (does the gap grow with size? does depth reach a lower ideal
loss?), the figure and the headline, all from a summary. The verdicts are
decided once, as typed values (`Outcome`), and both the verdict section and
the headline are rendered from them.

Every comparison is `stats.compare` on test losses (cross-entropy): each
seed's loss on each example of the real test set that every net is tested
on, paired over those examples (`Row.test_losses`; a row without them is
compared on one value per seed, seeds only). A claim made at several sizes
is decided by `stats.deciding`: supported only if every size supports it."""

from __future__ import annotations

import dataclasses

import numpy as np

from deepvsshallow import reference, report, runner, selection, stats


def anchor() -> str:
  """The published numbers for the real set (Greydanus 2020's MNIST-1D
  table); the ideal set has none."""
  paper = {r['dataset']: r for r in reference.load_csv(
      'mnist1d2020_models.csv')}['mnist1d']
  return (f'Greydanus 2020 (MNIST-1D, the real set here): test accuracy '
          f'logistic {paper["logistic"]}%, MLP {paper["mlp"]}%, CNN '
          f'{paper["cnn"]}%. The ideal set is the lecture\'s picture: no '
          'published table.')


@dataclasses.dataclass(frozen=True)
class Row(runner.Record):
  """One net trained on one training set (real or ideal) to convergence,
  tested on the real test set: `scores` (the pick: the learning rate, and
  the metric early stopping and the pick minimised, per seed), its test
  loss (cross-entropy) per seed and per test example, and its test error
  per seed. A shallow net's `matched_to` names the deep net its parameter
  count was matched to (that net's `name`, e.g. '16x16x16'); None for a
  deep net."""
  data: str                             # 'real' or 'ideal'.
  family: str                           # 'deep' or 'shallow'.
  hidden_widths: tuple[int, ...]
  param_count: int
  train_examples: int
  num_epochs: int                       # The cap, in passes over its set.
  scores: runner.Scores
  test_loss_per_seed: tuple[float, ...] = ()
  matched_to: str | None = None
  test_losses: str = ''     # (seeds, test examples), runner.encode_examples.
  test_error_per_seed: tuple[float, ...] = ()
  convergence: runner.Convergence | None = None  # Patience: passes, own set.

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

  @property
  def converged(self) -> bool:
    return self.convergence is not None and self.convergence.converged


net_name = report.net_name


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
                report.pct(*selection.mean_std(r.test_error_per_seed)),
                report.pct(*selection.mean_std(i.test_error_per_seed)),
                f'{_epochs(r)}; {_epochs(i)}'])
  return report.markdown_table(
      ['family', 'hidden', 'params', 'test loss (real)', 'test loss (ideal)',
       'real − ideal', 'test err % (real)', 'test err % (ideal)',
       'kept/stopped epochs (real; ideal)'], out)


def _epochs(r: Row) -> str:
  return r.convergence.cell() if r.convergence else 'n/a'


def _losses(*rows: Row) -> list[np.ndarray]:
  """The rows' test losses for `stats.compare`: (seeds, test examples) if
  every row kept them, else one value per seed."""
  if all(r.test_losses for r in rows):
    return [runner.decode_examples(r.test_losses) for r in rows]
  return [np.asarray(r.test_loss_per_seed) for r in rows]


def gap_grows(smaller, larger) -> stats.Comparison:
  """The claim "the larger net's real − ideal test-loss gap is the larger",
  for two nets of one family (each a {'real': row, 'ideal': row} pair); a
  gap is seed s of the real run less seed s of the ideal one."""
  sr, si, lr, li = _losses(smaller['real'], smaller['ideal'],
                           larger['real'], larger['ideal'])
  return stats.compare_or_no_interval(lr - li, sr - si,
                                      higher_is_better=True)


def deep_reaches_lower(deep: Row, shallow: Row) -> stats.Comparison:
  """The claim "with ideal data, the deep net has the lower test loss than
  its parameter-matched shallow net"."""
  return stats.compare_or_no_interval(*_losses(deep, shallow),
                                      higher_is_better=False)


def _edge(*rows: Row) -> str:
  return runner.edge_note(**{f'{r.data} {r.family} {r.name}': r.scores
                             for r in rows})


@dataclasses.dataclass(frozen=True)
class GapTrend:
  """One family's real − ideal loss gap against its size: each size's mean
  gap and, at each step to the next size, `gap_grows`; `key`: the step
  that decides "the gap grows with size" (`stats.deciding`)."""
  family: str
  sizes: tuple[int, ...]                # Parameter counts, ascending.
  gaps: tuple[float, ...]               # Mean real − ideal test loss.
  steps: tuple[stats.Comparison, ...]   # sizes[i] -> sizes[i + 1].
  notes: tuple[str, ...]                # Each step's runner.edge_note.

  @property
  def key(self) -> int:
    return stats.deciding(self.steps)

  @property
  def verdict(self) -> str:
    return self.steps[self.key].verdict


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
  note: str = ''                        # runner.edge_note of the picks.


@dataclasses.dataclass(frozen=True)
class Outcome:
  """Both claims, decided once; `depth_key`: the pair that decides "with
  ideal data the deep net has the lower test loss" (`stats.deciding`).
  `lowest`: per family, (parameter count, loss) of the lowest ideal loss."""
  trends: tuple[GapTrend, ...]           # Families with 2 sizes or more.
  pairs: tuple[MatchedPair, ...]
  lowest: dict[str, tuple[int, float]]

  @property
  def depth_key(self) -> int | None:
    return stats.deciding(p.comparison for p in self.pairs)

  @property
  def depth_verdict(self) -> str:
    return ('inconclusive' if not self.pairs else
            self.pairs[self.depth_key].comparison.verdict)


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
                             deep_reaches_lower(deep, shallow),
                             _edge(deep, shallow)))
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
      steps = list(zip(fam, fam[1:]))
      trends.append(GapTrend(
          family, tuple(n for n, _ in fam),
          tuple(v['real'].test_loss_mean - v['ideal'].test_loss_mean
                for _, v in fam),
          tuple(gap_grows(v, w) for (_, v), (_, w) in steps),
          tuple(_edge(*v.values(), *w.values()) for (_, v), (_, w) in steps)))
  return Outcome(tuple(trends), tuple(matched_pairs(rows)), lowest)


def _step(t: GapTrend, i: int) -> str:
  return (f'{t.sizes[i]:,} → {t.sizes[i + 1]:,}: '
          + t.steps[i].describe('larger', 'smaller', fmt='+.3f')
          + t.notes[i])


def _pair(p: MatchedPair) -> str:
  return (f'deep {p.deep} vs shallow {p.shallow}, {p.deep_params:,} vs '
          f'{p.shallow_params:,} params: '
          + p.comparison.describe('deep', 'shallow', fmt='+.3f') + p.note)


def verdict(rows: list[Row]) -> str:
  o = outcome(rows)
  said = [f'{t.family}: the real − ideal loss gap goes '
          f'{" → ".join(f"{g:+.3f}" for g in t.gaps)} from {t.sizes[0]:,} '
          f'to {t.sizes[-1]:,} parameters. The claim (it grows at every '
          f'step): {t.verdict} (gap, ' + '; '.join(
              _step(t, i) for i in range(len(t.steps))) + ').'
          for t in o.trends]
  if o.pairs:
    said.append(
        'With ideal data, the claim (the deep net has the lower test loss '
        f'than its matched shallow net, at every size): {o.depth_verdict} '
        '(test loss, ' + '; '.join(map(_pair, o.pairs)) + '); ' + '; '.join(
            f'the lowest ideal loss for {family} is {loss:.3f} ({n:,} '
            f'params)' for family, (n, loss) in o.lowest.items()) + '.')
  return '\n'.join(f'- {s}' for s in said)


def _stopped(rows: list[Row]) -> str:
  """How many populations patience stopped, per training set."""
  said = []
  for data in ('real', 'ideal'):
    ran = [r for r in rows if r.data == data and r.scores.done]
    said.append(f'{sum(r.converged for r in ran)} of {len(ran)} on the '
                f'{data} set')
    capped = [r.name for r in ran if not r.converged]
    if capped:
      said[-1] += f' (at the cap: {", ".join(capped)})'
  return 'Stopped by patience: ' + '; '.join(said) + '.'


def render_markdown(summary) -> str:
  cfg, rows = summary['config'], rows_of(summary)
  n = summary['train_examples']
  return '\n'.join([
      '# Ideal vs real: deep and shallow families on MNIST-1D', '',
      f'Real: {n["real"]:,} training examples (MNIST-1D with the published '
      f'arguments, validation carved out). Ideal: {n["ideal"]:,}, from '
      f'{cfg["ideal_factor"]}x as many samples generated with seed '
      f'{cfg["ideal_seed"]}. '
      + report.convergence_note(
          cfg, metric=cfg['select_on'], reference='the real set',
          patience_steps=summary['patience_steps'],
          min_passes=summary['min_patience_passes'],
          cap_steps=summary['steps'])
      + f' {_stopped(rows)} All are tested on the same real test set (1,000). '
      f'Deep: {cfg["deep_depth"]} hidden layers of each width; shallow: one '
      'hidden layer with the nearest parameter count. Test loss is '
      f'cross-entropy. Mean ± std over {cfg["num_seeds"]} seeds. A '
      'comparison gives the difference of the mean test losses with its 95% '
      'interval over the seeds and the test examples (stats.compare, paired '
      'over the examples): "supported" when it excludes 0 in the claim\'s '
      'direction, "contradicted" the other way, "inconclusive" when it '
      'holds 0. A claim made at several sizes is supported only if every '
      'size supports it and contradicted if any contradicts it.', '',
      results_table(rows), '', verdict(rows), '',
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
                              selection.mean_std(r.test_error_per_seed))
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
  """The claims' verdicts in one line (the lecture report's), each with the
  comparison that decides it."""
  o = outcome(rows_of(summary))
  said = [f'{t.family}: the real − ideal loss gap grows at every step: '
          f'{t.verdict} ({_step(t, t.key)})' for t in o.trends]
  if o.pairs:
    said.append('with ideal data the deep net has the lower test loss at '
                f'every matched size: {o.depth_verdict} '
                f'({_pair(o.pairs[o.depth_key])})')
  if not said:
    return 'No family has two sizes and no deep net a matched shallow net ' \
        'that finished on both training sets: nothing to judge.'
  said = '; '.join(said)
  return said[0].upper() + said[1:] + '.'


def console(summary) -> str:
  """What the run prints at the end."""
  rows = rows_of(summary)
  return results_table(rows) + '\n\n' + verdict(rows)
