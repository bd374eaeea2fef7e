"""Architecture search's report: the anytime curves, evolution against
random search along them and at the end, each search's pick, the figure and
the headline, all from a summary."""

from __future__ import annotations

import collections
import dataclasses

import numpy as np
from scipy import special

from deepvsshallow import report, runner, selection, stats


@dataclasses.dataclass(frozen=True)
class Candidate(runner.Record):
  """One candidate a search trained: its architecture, size and fitness;
  its test error (and its error on each test example) when it was the
  search's best so far at some point, else None."""
  depth: int
  widths: tuple[int, ...]
  activation: str
  learning_rate: float
  params: int               # The narrow net's own (not the padded shape's).
  val_error: float | None   # None: it diverged.
  test_error: float | None = None
  test_examples: str = ''   # runner.encode_examples, one row; '' untested.


@dataclasses.dataclass(frozen=True)
class Pick(runner.Record):
  """A search's final pick (lowest validation error), tested once."""
  arch: str                 # e.g. '64-32-32 relu lr=0.01'
  depth: int
  widths: tuple[int, ...]
  activation: str
  learning_rate: float
  params: int
  val_error: float
  test_error: float
  optimism: float           # test_error - val_error
  found_at: int             # Its place among the search's candidates, from 1.
  test_examples: str = ''   # Its error on each test example (one row).


@dataclasses.dataclass(frozen=True)
class SearchRun(runner.Record):
  """One search (method, search seed): every candidate in the order trained,
  after each the best validation error so far and that candidate's test
  error (None while every candidate so far diverged), and the pick."""
  method: str               # 'evolution' or 'random'
  search_seed: int
  best_so_far: tuple[float | None, ...]
  best_so_far_test: tuple[float | None, ...]
  candidates: tuple[Candidate, ...]
  pick: Pick


def runs_of(summary) -> list[SearchRun]:
  return [SearchRun.from_json(r) for r in summary['runs']]


def leaders(val_errors) -> list[int]:
  """After each candidate, the index of the best so far: the lowest finite
  validation error, the earliest on a tie; -1 while none is finite."""
  out, best, where = [], np.inf, -1
  for i, v in enumerate(val_errors):
    if v is not None and np.isfinite(v) and v < best:
      best, where = v, i
    out.append(where)
  return out


def leader_at(run: SearchRun, budget: int) -> Candidate | None:
  """The search's best candidate after its first `budget` candidates."""
  i = leaders([c.val_error for c in run.candidates[:budget]])[-1]
  return None if i < 0 else run.candidates[i]


def anchor() -> str:
  """No published table to reproduce: the method and its baseline."""
  return ('Real et al. 2019 (regularized evolution); random search as the '
          'honest baseline.')


def _by_method(runs: list[SearchRun]) -> dict[str, list[SearchRun]]:
  out = collections.defaultdict(list)
  for r in runs:
    out[r.method].append(r)
  return out


def mean_interval(values, confidence: float = 0.95):
  """(mean, low, high): Student's t interval of the mean over replicates
  (search seeds); low and high NaN with one replicate."""
  x = np.asarray(values, np.float64)
  mean = float(x.mean())
  if len(x) < 2:
    return mean, float('nan'), float('nan')
  half = float(special.stdtrit(len(x) - 1, (1 + confidence) / 2)
               * x.std(ddof=1) / np.sqrt(len(x)))
  return mean, mean - half, mean + half


def compare_at(runs: list[SearchRun], budget: int) -> stats.Comparison:
  """The claim "evolution's best-so-far candidate after `budget`
  candidates beats random search's" on test error, one candidate per
  search seed (the seeds of `stats.compare`), paired over the test examples
  when each kept its errors on them, else over search seeds alone. One
  search seed a side: no interval, inconclusive."""
  by = _by_method(runs)
  lead = {m: [leader_at(r, budget) for r in by[m]]
          for m in ('evolution', 'random')}
  paired = all(c.test_examples for cs in lead.values() for c in cs)
  side = lambda method: np.array([
      runner.decode_examples(c.test_examples)[0] if paired
      else c.test_error for c in lead[method]])
  return stats.compare_or_no_interval(side('evolution'), side('random'),
                                      higher_is_better=False)


def evolution_beats_random(runs: list[SearchRun]) -> stats.Comparison:
  """`compare_at` the whole budget: the final picks."""
  return compare_at(runs, len(runs[0].candidates))


@dataclasses.dataclass(frozen=True)
class AnytimeRow:
  """Both methods after `budget` candidates: the best-so-far validation
  error and its test error, (mean, low, high) over search seeds, and
  evolution against random search on that test error."""
  budget: int
  val: dict[str, tuple[float, float, float]]
  test: dict[str, tuple[float, float, float]]
  comparison: stats.Comparison | None    # None: one method alone.


def anytime(runs: list[SearchRun], budgets) -> list[AnytimeRow]:
  by = _by_method(runs)
  rows = []
  for k in budgets:
    lead = {m: [leader_at(r, k) for r in rs] for m, rs in by.items()}
    ok = {m: [c for c in cs if c is not None] for m, cs in lead.items()}
    rows.append(AnytimeRow(
        k, {m: mean_interval([c.val_error for c in cs])
            for m, cs in ok.items() if cs},
        {m: mean_interval([c.test_error for c in cs])
         for m, cs in ok.items() if cs},
        compare_at(runs, k) if {'evolution', 'random'} <= set(by)
        and all(len(ok[m]) == len(lead[m]) for m in lead) else None))
  return rows


def _interval(t) -> str:
  mean, low, high = (100 * x for x in t)
  return (f'{mean:.2f}' if not np.isfinite(low)
          else f'{mean:.2f} [{low:.2f}, {high:.2f}]')


def anytime_table(rows: list[AnytimeRow]) -> str:
  methods = sorted({m for r in rows for m in r.val})
  return report.markdown_table(
      ['candidates'] + [f'{m} best val err %' for m in methods]
      + [f'{m} its test err %' for m in methods]
      + ['evolution − random, test (points)'],
      [[r.budget] + [_interval(r.val[m]) for m in methods]
       + [_interval(r.test[m]) for m in methods]
       + [_difference(r.comparison)]
       for r in rows])


def _difference(c: stats.Comparison | None) -> str:
  """'+1.2 [-0.8, +3.1]: inconclusive', in points."""
  if c is None:
    return 'n/a'
  if not np.isfinite(c.low):
    return f'{100 * c.difference:+.2f} (no interval): {c.verdict}'
  return (f'{100 * c.difference:+.2f} [{100 * c.low:+.2f}, '
          f'{100 * c.high:+.2f}]: {c.verdict}')


def picks_table(runs: list[SearchRun]) -> str:
  return report.markdown_table(
      ['method', 'search seed', 'pick', 'params', 'found at', 'val err %',
       'test err %', 'optimism pts'],
      [[r.method, r.search_seed, r.pick.arch, f'{r.pick.params:,}',
        r.pick.found_at, f'{100 * r.pick.val_error:.2f}',
        f'{100 * r.pick.test_error:.2f}', f'{100 * r.pick.optimism:+.2f}']
       for r in runs])


def _depth_share(candidates: list[Candidate], top: float = 0.1):
  """Mean depth of all candidates and of the best `top` fraction (by val)."""
  done = [c for c in candidates if c.val_error is not None]
  ranked = sorted(done, key=lambda c: c.val_error)
  best = ranked[:max(1, int(top * len(ranked)))]
  return (float(np.mean([c.depth for c in done])),
          float(np.mean([c.depth for c in best])))


def edge_note(runs: list[SearchRun], cfg) -> str:
  """' (not bracketed: evolution picked lr=0.3 in 3 of 10 searches, ...)'
  when picks sit at an end of the space: a learning rate at an end of
  `search_learning_rates`, the largest depth, or a layer at the widest
  width. The space, not the search, may then be what the verdict measures.
  '' otherwise."""
  lrs = cfg['search_learning_rates']
  lo, hi = min(lrs), max(lrs)
  deepest, widest = max(cfg['depths']), max(cfg['widths'])
  notes = []
  for method, searches in _by_method(runs).items():
    n = len(searches)
    said = [f'lr={lr:g} in {k} of {n}' for lr in (lo, hi)
            if lo < hi and (k := sum(r.pick.learning_rate == lr
                                     for r in searches))]
    if len(set(cfg['depths'])) > 1 and (k := sum(
        r.pick.depth == deepest for r in searches)):
      said.append(f'depth {deepest} (the deepest) in {k} of {n}')
    if len(set(cfg['widths'])) > 1 and (k := sum(
        widest in r.pick.widths for r in searches)):
      said.append(f'a layer of {widest} (the widest) in {k} of {n}')
    if said:
      notes.append(f'{method} picked {", ".join(said)}')
  return f' (not bracketed: {"; ".join(notes)})' if notes else ''


@dataclasses.dataclass(frozen=True)
class MethodSummary:
  """One method's searches: their picks and the depths they tried."""
  method: str
  searches: int
  val_error: tuple[float, float]    # The picks' mean and std.
  test_error: tuple[float, float]
  optimism: float                   # Mean test - val error of the picks.
  depth_all: float                  # Mean depth of every candidate.
  depth_top: float                  # ... of the best 10% by validation.


def method_summaries(runs: list[SearchRun]) -> list[MethodSummary]:
  out = []
  for method, searches in _by_method(runs).items():
    every = [c for r in searches for c in r.candidates]
    out.append(MethodSummary(
        method, len(searches),
        selection.mean_std([r.pick.val_error for r in searches]),
        selection.mean_std([r.pick.test_error for r in searches]),
        float(np.mean([r.pick.optimism for r in searches])),
        *_depth_share(every)))
  return out


@dataclasses.dataclass(frozen=True)
class Outcome:
  """Evolution against random search on the picks' test error."""
  evolution_test: float             # Mean over search seeds.
  random_test: float
  comparison: stats.Comparison      # "evolution's picks beat random's".
  edge: str                         # `edge_note`: '' when bracketed.

  @property
  def verdict(self) -> str:
    return self.comparison.verdict


def outcome(runs: list[SearchRun], cfg) -> Outcome | None:
  """None: evolution and random search did not both run. `cfg`: the
  config (its space, for the edge note)."""
  by = _by_method(runs)
  if not {'evolution', 'random'} <= set(by):
    return None
  return Outcome(float(np.mean([r.pick.test_error for r in by['evolution']])),
                 float(np.mean([r.pick.test_error for r in by['random']])),
                 evolution_beats_random(runs), edge_note(runs, cfg))


NO_OUTCOME = ('No comparison: evolution and random search must both have '
              'run.')


def outcome_sentence(o: Outcome | None, space_size: int,
                     candidates: int) -> str:
  """The comparison in one sentence: the verdict section's last line and
  the headline."""
  if o is None:
    return NO_OUTCOME
  return ('Evolution vs random search on the picks\' test error after '
          f'{candidates} candidates each, {100 * o.evolution_test:.2f}% vs '
          f'{100 * o.random_test:.2f}%: '
          + o.comparison.describe('evolution', 'random', scale=100,
                                  unit='points')
          + f'{o.edge}. The space holds {space_size:,} candidates.')


def verdict(runs: list[SearchRun], candidates_per_search: int,
            space_size: int, cfg) -> str:
  said = [
      f'{m.method}: after {candidates_per_search} candidates, best '
      f'validation error {report.pct(*m.val_error)}%, its test error '
      f'{report.pct(*m.test_error)}%, optimism {100 * m.optimism:+.2f} '
      f'points (mean over {m.searches} search seeds). Mean depth of its '
      f'candidates {m.depth_all:.2f}; of its best 10% {m.depth_top:.2f}.'
      for m in method_summaries(runs)]
  o = outcome(runs, cfg)
  if o is not None:
    said.append(outcome_sentence(o, space_size, candidates_per_search))
  return '\n'.join(f'- {s}' for s in said)


def _verdict(summary) -> str:
  return verdict(runs_of(summary), summary['candidates_per_search'],
                 summary['space_size'], summary['config'])


def _along_the_curve(summary) -> str:
  """Which way the verdicts along the curve went, in one sentence."""
  rows = [r for r in anytime(runs_of(summary), summary['budgets'])
          if r.comparison is not None]
  if not rows:
    return ''
  counts = collections.Counter(r.comparison.verdict for r in rows)
  return (f'Along the curve (after each generation, {len(rows)} budgets, '
          'each on its own 95% interval, not corrected for looking '
          f'{len(rows)} times): ' + ', '.join(
              f'{counts[v]} {v}' for v in stats.VERDICTS if counts[v])
          + '. The verdict is the last row, the whole budget.')


def render_markdown(summary) -> str:
  cfg = summary['config']
  shares = ', '.join(f'{d}: {100 * s:.1f}%' for d, s in
                     summary['space_depth_shares'].items())
  return '\n'.join([
      '# Can the structure be found automatically? Evolution vs random '
      'search', '',
      f'{cfg["dataset"]}; MLPs with depth in {tuple(cfg["depths"])}, each '
      f'hidden layer\'s width from {tuple(cfg["widths"])}, activation in '
      f'{tuple(cfg["activations"])}, Adam learning rate in '
      f'{tuple(cfg["search_learning_rates"])}, at most {cfg["budget"]:,} '
      f'parameters: {summary["space_size"]:,} candidates in the space '
      f'(share of each depth: {shares}). Each search trains '
      f'{summary["candidates_per_search"]} candidates '
      f'({cfg["population_size"]} random, then {cfg["generations"]} '
      f'generations of {cfg["children_per_generation"]}), each '
      f'{cfg["num_epochs"]} epochs with its own seed; fitness is the '
      'validation error. Regularized evolution: tournaments of '
      f'{cfg["sample_size"]} from a population of {cfg["population_size"]},'
      ' one mutation (a kind drawn uniformly: a layer\'s width one step, a '
      'layer removed or repeated, the activation, the learning rate one '
      'step), the oldest leaves (Real et al. 2019). Random search: uniform '
      f'over the space. {cfg["search_seeds"]} search seeds each.', '',
      '## The anytime curve', '',
      'After each generation: the best validation error so far and the '
      'test error of that candidate, mean and 95% interval over the search '
      'seeds; evolution − random on that test error, paired over the test '
      'examples with the search seeds as replicates (`stats.compare`: '
      'evolution ahead, "supported", or behind, "contradicted", only when '
      'the interval excludes 0).', '',
      anytime_table(anytime(runs_of(summary), summary['budgets'])), '',
      _along_the_curve(summary), '',
      '![anytime curves](results.png)', '',
      '## The picks', '',
      picks_table(runs_of(summary)), '',
      _verdict(summary), '',
      '"Not bracketed" beside the verdict: picks sat at an end of the space '
      '(a learning rate at an end of the grid, the largest depth, or a '
      'layer at the widest width), where a larger space might have held a '
      'better net.', '',
      'The optimism of a pick grows with the number of candidates compared '
      '(see the optimism study): a search is training on its validation '
      'set, and only the test split, read once at the end, says how good '
      'the pick is.', '', report.run_footer(summary), ''])


def _curve(runs: list[SearchRun], field: str) -> np.ndarray:
  return 100 * np.array([[np.nan if v is None else v
                          for v in getattr(r, field)] for r in runs])


def plot(summary, path: str) -> None:
  plt = report.pyplot()
  fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
  colors = {'evolution': 'tab:blue', 'random': 'tab:orange'}
  by = _by_method(runs_of(summary))
  for method, runs in by.items():
    color = colors.get(method)
    for ax, field in zip(axes, ('best_so_far', 'best_so_far_test')):
      curves = _curve(runs, field)
      x = np.arange(1, curves.shape[1] + 1)
      t = [mean_interval(c) if np.isfinite(c).all() else (np.nan,) * 3
           for c in curves.T]
      mean, low, high = np.array(t).T
      ax.plot(x, mean, color=color, label=f'{method} ({len(runs)} seeds)')
      ax.fill_between(x, low, high, alpha=0.2, color=color)
    depths = [c.depth for r in runs for c in r.candidates]
    axes[2].hist(depths, bins=np.arange(0.5, max(depths) + 1.5),
                 alpha=0.5, color=color, label=method)
  for b in summary['budgets'][:-1]:
    for ax in axes[:2]:
      ax.axvline(b + 0.5, color='0.85', lw=0.8, zorder=0)
  # The first few candidates (one or two nets) would set the scale.
  for ax, field in zip(axes, ('best_so_far', 'best_so_far_test')):
    later = np.concatenate([_curve(runs, field)[:, 4:].ravel()
                            for runs in by.values()])
    if np.isfinite(later).any():
      ax.set_ylim(top=np.nanmax(later) + 2)
  axes[0].set_ylabel('best validation error so far (%)')
  axes[1].set_ylabel('test error of that candidate (%)')
  for ax in axes[:2]:
    ax.set_xlabel('candidates trained (per search)')
  axes[0].set_title('mean and 95% interval over search seeds')
  axes[1].set_title('the same candidates on test (read once)')
  axes[2].set_xlabel('depth of the candidates trained')
  axes[2].set_ylabel('candidates (all seeds)')
  axes[2].set_title('where each search spent its budget')
  for ax in axes:
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
  fig.suptitle(f'{summary["config"]["dataset"]}: evolution vs random search '
               f'over {summary["space_size"]:,} MLPs of at most '
               f'{summary["config"]["budget"]:,} parameters')
  report.save_figure(fig, path)
  plt.close(fig)


def console(summary) -> str:
  return (anytime_table(anytime(runs_of(summary), summary['budgets']))
          + '\n\n' + picks_table(runs_of(summary)) + '\n\n'
          + _verdict(summary))


def headline(summary) -> str:
  """The claim's verdict in one line (the lecture report's)."""
  return outcome_sentence(outcome(runs_of(summary), summary['config']),
                          summary['space_size'],
                          summary['candidates_per_search'])
