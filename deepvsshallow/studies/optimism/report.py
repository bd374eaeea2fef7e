"""Optimism's report: the table of the best of K against K, the verdicts
(is the pick optimistic at each K? does the optimism grow with K? does the
cure's?), the figure and the
headline, all from a summary. Each dataset's verdict is decided once, as a
typed value (`Growth`), and the verdict section and the headline are both
rendered from it."""

from __future__ import annotations

import dataclasses

import numpy as np

from deepvsshallow import report, runner, stats

ANCHOR = ('Cawley & Talbot 2010: over-fitting in model selection; order '
          'statistics grow as σ√(2 ln K).')


@dataclasses.dataclass(frozen=True)
class KRow(runner.Record):
  """The best of K candidates on select, over the bootstrap's draws (a
  point of the curve against K, a row of the table): the mean and std over
  draws of the picked candidate's select (val), test and holdout errors,
  its optimism (test − select), test − holdout and holdout − select (the
  optimism measured without the test split); beside them the prediction
  for K equally good candidates, σ·E[max of K standard normals], and
  σ·√(2 ln K)."""
  k: int
  val_mean: float
  val_std: float
  test_mean: float
  test_std: float
  optimism_mean: float
  optimism_std: float
  holdout_mean: float
  holdout_std: float
  holdout_optimism_mean: float
  holdout_optimism_std: float
  predicted_optimism: float
  sqrt_2_ln_k: float
  # NaN in a summary written before they were kept.
  holdout_val_optimism_mean: float = float('nan')
  holdout_val_optimism_std: float = float('nan')

  @classmethod
  def from_bootstrap(cls, row: dict, *, predicted_optimism: float,
                     sqrt_2_ln_k: float) -> 'KRow':
    """A row of `selection.bootstrap_best_of_k`: its gap test - validation
    is this study's optimism."""
    return cls(**{k.replace('gap', 'optimism'): v for k, v in row.items()},
               predicted_optimism=predicted_optimism, sqrt_2_ln_k=sqrt_2_ln_k)


@dataclasses.dataclass(frozen=True)
class Pool(runner.Record):
  """One dataset's pool of candidates and its bootstrap. `candidates`:
  every finished candidate's 'select', 'holdout' and 'test' error (the
  data the independent picks are drawn from)."""
  rows: tuple[KRow, ...]
  sigma: float                          # The validation noise, measured.
  pool: int                             # Candidates that finished.
  candidates: dict[str, list[float]]
  diverged: int
  split_sizes: dict[str, int]           # train, select, holdout, test.
  pool_val_error: tuple[float, float]   # Mean and std over the pool.
  pool_test_error: tuple[float, float]
  best_test_in_pool: float
  # Every finished candidate's error on each example of test, select and
  # holdout, in the order of `candidates` (runner.encode_examples); '' in a
  # summary written before they were kept.
  test_examples: str = ''
  select_examples: str = ''
  holdout_examples: str = ''


def pools_of(summary) -> dict[str, Pool]:
  return {name: Pool.from_json(result)
          for name, result in summary['datasets'].items()}


def results_table(rows: tuple[KRow, ...] | list[KRow]) -> str:
  pm = lambda mean, std: f'{100 * mean:.2f} ± {100 * std:.2f}'
  return report.markdown_table(
      ['K', 'picked: select err %', 'picked: test err %',
       'optimism (test − select) pts', 'predicted σ·E[max K] pts',
       'test − holdout pts', 'holdout − select pts'],
      [[r.k, pm(r.val_mean, r.val_std), pm(r.test_mean, r.test_std),
        pm(r.optimism_mean, r.optimism_std),
        f'{100 * r.predicted_optimism:.2f}',
        pm(r.holdout_optimism_mean, r.holdout_optimism_std),
        pm(r.holdout_val_optimism_mean, r.holdout_val_optimism_std)]
       for r in rows])


def independent_picks(select, k: int, seed: int) -> np.ndarray:
  """The best of K on select from disjoint groups of K candidates: the
  pool shuffled once (by `seed`) and cut into len // K groups, so that
  each pick is an independent replicate (the bootstrap's draws share
  candidates, and their spread is not a replicate's). Returns the picked
  candidates' indices."""
  select = np.asarray(select, np.float64)
  order = np.random.default_rng(seed).permutation(len(select))
  groups = order[:len(select) // k * k].reshape(-1, k)
  return groups[np.arange(len(groups)), np.argmin(select[groups], axis=1)]


# Each series as (the split scored, the split subtracted).
SERIES = {'optimism': ('test', 'select'),
          'holdout_optimism': ('test', 'holdout'),
          'holdout_val_optimism': ('holdout', 'select')}


def pick_scores(result: Pool, k: int, seed: int,
                series: str = 'optimism') -> np.ndarray:
  """Each independent pick's `series` (see SERIES): optimism (test −
  select), holdout_optimism (test − holdout) or holdout_val_optimism
  (holdout − select).

  Test against select or holdout: (picks, test examples), each test
  example's error minus the pick's select (holdout) error. Holdout − select:
  (picks, n), holdout example PAIRING[j]'s error minus select example j's,
  both halves of n examples, paired at random (`pairing`: the halves keep
  the dataset's order, which may cycle by class, and pairing neighbours
  would correlate the two and narrow the interval). The picks then share n
  units, each a (holdout, select) pair of examples drawn from one carve,
  so `stats.compare` covers both splits' sampling noise. A summary that
  kept no per-example errors, or halves of unequal size: (picks,), the
  picks alone."""
  i = independent_picks(result.candidates['select'], k, seed)
  scored, subtracted = SERIES[series]
  base = np.asarray(result.candidates[subtracted])[i]
  whole = np.asarray(result.candidates[scored])[i] - base
  if scored == 'test':
    if not result.test_examples:
      return whole
    return runner.decode_examples(result.test_examples)[i] - base[:, None]
  if not (result.holdout_examples and result.select_examples):
    return whole
  hold = runner.decode_examples(result.holdout_examples)[i]
  select = runner.decode_examples(result.select_examples)[i]
  if hold.shape != select.shape:
    return whole
  return hold[:, pairing(hold.shape[1])] - select


def pairing(n: int) -> np.ndarray:
  """Which holdout example is paired with select example j: a fixed random
  permutation of n (seeded, so a report renders the same every time)."""
  return np.random.default_rng(0).permutation(n)


def level(result: Pool, k: int, seed: int,
          series: str = 'holdout_val_optimism') -> stats.Comparison:
  """The claim "`series` is above 0 at K": its mean over independent picks
  against a fixed 0 (`stats.compare` with fixed_b). One pick: no
  interval."""
  scores = pick_scores(result, k, seed, series)
  return stats.compare_or_no_interval(
      scores, np.zeros((1,) + scores.shape[1:]), fixed_b=True,
      higher_is_better=True)


def growth(result: Pool, seed: int,
           series: str = 'optimism') -> stats.Comparison:
  """The claim "`series` is larger at the largest K than at the smallest":
  independent picks are the seeds of `stats.compare`, paired over the
  examples they share (`pick_scores`). One pick at a K: no interval."""
  first, last = result.rows[0].k, result.rows[-1].k
  return stats.compare_or_no_interval(
      pick_scores(result, last, seed, series),
      pick_scores(result, first, seed, series), higher_is_better=True)


@dataclasses.dataclass(frozen=True)
class Growth:
  """One dataset's verdicts, decided once: between the smallest and the
  largest K, over independent picks, `optimism` compares test − select
  (the claim "it grows with K"), `cure` test − holdout (the same claim,
  which the cure should not support) and `split` holdout − select (the
  optimism without the test split: it should grow). `levels`: at each K,
  holdout − select against 0 (the claim "the pick is optimistic"). The
  means over the bootstrap's draws beside them are the table's."""
  first: KRow                   # The smallest K's row,
  last: KRow                    # the largest's.
  sigma: float
  optimism: stats.Comparison
  cure: stats.Comparison
  split: stats.Comparison
  levels: tuple[stats.Comparison, ...]   # One per row.


def growth_of(result: Pool, seed: int) -> Growth | None:
  """None when no candidate finished (no row)."""
  if not result.rows:
    return None
  return Growth(result.rows[0], result.rows[-1], result.sigma,
                growth(result, seed), growth(result, seed, 'holdout_optimism'),
                growth(result, seed, 'holdout_val_optimism'),
                tuple(level(result, r.k, seed) for r in result.rows))


def levels_table(result: Pool, g: Growth) -> str:
  """Holdout − select at each K over independent picks, with its interval
  and the verdict on "the pick is optimistic" (above 0)."""
  f = lambda x: format(100 * x, '+.2f')
  return report.markdown_table(
      ['K', 'independent picks', 'holdout − select pts', '95% interval',
       'optimistic?'],
      [[r.k, c.seeds[0], f(c.difference),
        f'[{f(c.low)}, {f(c.high)}]' if np.isfinite(c.low) else
        'one pick: none', c.verdict]
       for r, c in zip(result.rows, g.levels)])


def _change(g: Growth, c: stats.Comparison) -> str:
  return c.describe(f'K={g.last.k}', f'K={g.first.k}', scale=100,
                    unit='points')


def verdict(name: str, result: Pool, seed: int) -> str:
  g = growth_of(result, seed)
  if g is None:
    return f'{name}: no candidate finished; there is no pick to compare.'
  first, last = g.first, g.last
  return (f'{name}: test − select goes from {100 * first.optimism_mean:.2f}'
          f' points at K={first.k} to {100 * last.optimism_mean:.2f} at '
          f'K={last.k} (the prediction for equally good candidates with '
          f'σ = {100 * g.sigma:.2f} points: '
          f'{100 * last.predicted_optimism:.2f}); its growth over '
          f'independent picks: {_change(g, g.optimism)}. Test − holdout (the '
          'holdout used once) goes from '
          f'{100 * first.holdout_optimism_mean:.2f} to '
          f'{100 * last.holdout_optimism_mean:.2f}; its growth: '
          f'{_change(g, g.cure)}. Holdout − select (the optimism without '
          f'the test split) goes from {100 * first.holdout_val_optimism_mean:.2f}'
          f' to {100 * last.holdout_val_optimism_mean:.2f}; its growth: '
          f'{_change(g, g.split)}.')


def render_markdown(summary) -> str:
  cfg = summary['config']
  lines = ['# Selection is training: optimism against the number of '
           'candidates', '',
           f'A pool of {cfg["pool_architectures"]} random MLP architectures '
           f'(depth in {tuple(cfg["depths"])}, parameters ≤ '
           f'{cfg["budget"]:,}) x {cfg["candidates_per_architecture"]} '
           f'log-uniform learning rates in {tuple(cfg["lr_range"])}, one seed '
           f'each, {cfg["num_epochs"]} epochs, early-stopped on the select '
           f'split. For each K, {cfg["resamples"]:,} draws of K candidates '
           'from the pool; the one with the lowest select error is picked. '
           'Mean ± std over draws. Cawley & Talbot (2010, JMLR 11) describe '
           'this over-fitting in model selection.', '',
           'Whether a quantity grows with K is judged on independent picks '
           '(the pool cut once into disjoint groups of K, the best of each '
           'group picked): the difference of its mean between the largest '
           'and the smallest K with a 95% interval over the picks and the '
           'test examples they share (`stats.compare`), "supported" when '
           'the interval excludes 0 upward, "contradicted" downward, '
           '"inconclusive" otherwise. A K with one group is one pick: no '
           'interval.', '',
           'Test − select mixes two things: the pick\'s luck on select, and '
           'how much harder the test split is than the validation split '
           '(a fixed offset, the same for every candidate). Holdout − '
           'select measures the optimism on two random halves of one '
           'validation split, so no offset is built in: its interval '
           'covers the picks and both halves\' examples (their examples '
           'paired at random).', '']
  for name, result in pools_of(summary).items():
    s = result.split_sizes
    lines += [f'## {name}', '',
              f'Splits: train {s["train"]}, select {s["select"]}, holdout '
              f'{s["holdout"]}, test {s["test"]}; {result.pool} '
              f'candidates finished ({result.diverged} diverged). Pool '
              f'test error {report.pct(*result.pool_test_error)}%, best in '
              f'pool {100 * result.best_test_in_pool:.2f}%.', '',
              results_table(result.rows), '']
    if (g := growth_of(result, cfg['pool_seed'])) is not None:
      lines += ['Holdout − select over independent picks, against 0 (is '
                'the pick optimistic?):', '', levels_table(result, g), '']
    lines += ['- ' + verdict(name, result, cfg['pool_seed']), '']
  lines += ['![optimism against K](results.png)', '',
            'How to read it:', '',
            '- The prediction assumes K equally good candidates. Real ones '
            'differ, so the best on select is usually also among the truly '
            'good, and the measured optimism stays below the prediction.',
            '- At K = 1 the optimism is not 0: each candidate\'s epoch is '
            'itself picked on select (early stopping), the best of '
            f'{summary["config"]["num_epochs"]} noisy evaluations.',
            '- Test − holdout does not start at 0 either. Holdout and test '
            'are different examples, so one is a little easier, and every '
            'candidate sees the same split. That offset does not grow with '
            'K, because nothing was picked on the holdout.',
            '- A select error at its floor of 0 (digits, where many '
            'candidates make no mistakes on a small split) cannot get more '
            'optimistic, so the optimism there stops growing.', '',
            report.run_footer(summary), '']
  return '\n'.join(lines)


def plot(summary, path: str) -> None:
  plt = report.pyplot()
  pools = pools_of(summary)
  names = list(pools)
  fig, axes = plt.subplots(1, len(names), figsize=(5.5 * len(names), 3.8),
                           squeeze=False)
  for ax, name in zip(axes[0], names):
    rows = pools[name].rows
    k = [r.k for r in rows]
    ax.errorbar(k, [100 * r.optimism_mean for r in rows],
                yerr=[100 * r.optimism_std for r in rows], marker='o',
                capsize=2, label='measured: test − select')
    ax.plot(k, [100 * r.predicted_optimism for r in rows], 'k--',
            label='σ·E[max of K] (equal candidates)')
    ax.errorbar(k, [100 * r.holdout_optimism_mean for r in rows],
                yerr=[100 * r.holdout_optimism_std for r in rows],
                marker='s', capsize=2, color='tab:green',
                label='cure: test − holdout')
    ax.errorbar(k, [100 * r.holdout_val_optimism_mean for r in rows],
                yerr=[100 * r.holdout_val_optimism_std for r in rows],
                marker='^', capsize=2, color='tab:purple',
                label='holdout − select (no test split)')
    ax.axhline(0, color='grey', lw=0.8)
    ax.set_xscale('log', base=2)
    ax.set_xlabel('K candidates compared')
    ax.set_ylabel('points of error')
    ax.set_title(f'{name} (select {pools[name].split_sizes["select"]} '
                 'examples)')
    ax.grid(True, which='both', alpha=0.3)
  axes[0, 0].legend(fontsize=8)
  fig.suptitle('The optimism of picking the best of K on validation')
  report.save_figure(fig, path)
  plt.close(fig)


def headline(summary) -> str:
  """The claim's verdict in one line (the lecture report's)."""
  parts = []
  seed = summary['config']['pool_seed']
  for name, result in pools_of(summary).items():
    g = growth_of(result, seed)
    if g is None:
      parts.append(f'{name}: no candidate finished')
      continue
    parts.append(f'{name}: picking the best of K={g.last.k} on validation '
                 f'is optimistic by {100 * g.last.optimism_mean:.2f} points '
                 f'(K={g.first.k}: {100 * g.first.optimism_mean:.2f}; its '
                 f'growth, {_change(g, g.optimism)}); a holdout used once is '
                 f'off by {100 * g.last.holdout_optimism_mean:+.2f} (its '
                 f'growth, {_change(g, g.cure)}); without the test split, '
                 f'holdout − select is {100 * g.last.holdout_val_optimism_mean:.2f}'
                 f' points (its growth, {_change(g, g.split)})')
  return '; '.join(parts) + '.'


def console(summary) -> str:
  """What the run prints at the end: each dataset's table."""
  return '\n\n'.join(f'{name}:\n' + results_table(result.rows)
                      for name, result in pools_of(summary).items())
