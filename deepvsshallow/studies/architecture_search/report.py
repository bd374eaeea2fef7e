"""Architecture search's report: each search's pick, evolution against
random search on the picks' test error, the figure and the headline, all
from a summary."""

from __future__ import annotations

import collections
import dataclasses

import numpy as np

from deepvsshallow import report, runner, selection, stats


@dataclasses.dataclass(frozen=True)
class Candidate(runner.Record):
  """One candidate a search trained: its architecture, size and fitness."""
  depth: int
  width: int
  activation: str
  learning_rate: float
  params: int
  val_error: float | None   # None: it diverged.


@dataclasses.dataclass(frozen=True)
class Pick(runner.Record):
  """A search's final pick (lowest validation error), tested once."""
  arch: str                 # e.g. '2x32 relu lr=0.001'
  depth: int
  width: int
  activation: str
  learning_rate: float
  params: int
  val_error: float
  test_error: float
  optimism: float           # test_error - val_error
  found_at: int             # Its place among the search's candidates, from 1.
  # Its error on each test example (runner.encode_examples, one row); '' in
  # a summary written before they were kept.
  test_examples: str = ''


@dataclasses.dataclass(frozen=True)
class SearchRun(runner.Record):
  """One search (method, search seed): every candidate in the order trained,
  the best validation error so far after each, and the pick."""
  method: str               # 'evolution' or 'random'
  search_seed: int
  best_so_far: tuple[float, ...]
  candidates: tuple[Candidate, ...]
  pick: Pick


def runs_of(summary) -> list[SearchRun]:
  return [SearchRun.from_json(r) for r in summary['runs']]


def anchor() -> str:
  """No published table to reproduce: the method and its baseline."""
  return ('Real et al. 2019 (regularized evolution); random search as the '
          'honest baseline.')


def picks_table(runs: list[SearchRun]) -> str:
  return report.markdown_table(
      ['method', 'search seed', 'pick', 'params', 'found at', 'val err %',
       'test err %', 'optimism pts'],
      [[r.method, r.search_seed, r.pick.arch, f'{r.pick.params:,}',
        r.pick.found_at, f'{100 * r.pick.val_error:.2f}',
        f'{100 * r.pick.test_error:.2f}', f'{100 * r.pick.optimism:+.2f}']
       for r in runs])


def _by_method(runs: list[SearchRun]) -> dict[str, list[SearchRun]]:
  out = collections.defaultdict(list)
  for r in runs:
    out[r.method].append(r)
  return out


def _depth_share(candidates: list[Candidate], top: float = 0.1):
  """Mean depth of all candidates and of the best `top` fraction (by val)."""
  done = [c for c in candidates if c.val_error is not None]
  ranked = sorted(done, key=lambda c: c.val_error)
  best = ranked[:max(1, int(top * len(ranked)))]
  return (float(np.mean([c.depth for c in done])),
          float(np.mean([c.depth for c in best])))


def evolution_beats_random(runs: list[SearchRun]) -> stats.Comparison:
  """The claim "evolution's picks beat random search's" on test error, one
  pick per search seed (the seeds of `stats.compare`), paired over the test
  examples when every pick kept its errors on them, else over search seeds
  alone. One search seed a side: no interval, inconclusive."""
  by = _by_method(runs)
  paired = all(r.pick.test_examples for r in runs)
  side = lambda method: np.array([
      runner.decode_examples(r.pick.test_examples)[0] if paired
      else r.pick.test_error for r in by[method]])
  return stats.compare_or_no_interval(side('evolution'), side('random'),
                                      higher_is_better=False)


def edge_note(runs: list[SearchRun], learning_rates) -> str:
  """' (not bracketed: evolution picked lr=0.03 in 3 of 3 searches, ...,
  an end of the space 0.003..0.03)' when picks sit at an end of the
  learning-rate space (as `runner.edge_note`): the space, not the search,
  may be what the verdict measures. '' otherwise."""
  lo, hi = min(learning_rates), max(learning_rates)
  notes = [f'{method} picked lr={lr:g} in {n} of {len(searches)} searches'
           for method, searches in _by_method(runs).items()
           for lr in (lo, hi)
           if lo < hi and (n := sum(r.pick.learning_rate == lr
                                    for r in searches))]
  return (f' (not bracketed: {"; ".join(notes)}, an end of the space '
          f'{lo:g}..{hi:g})' if notes else '')


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


def outcome(runs: list[SearchRun], learning_rates) -> Outcome | None:
  """None: evolution and random search did not both run. `learning_rates`:
  the space's, for the edge note."""
  by = _by_method(runs)
  if not {'evolution', 'random'} <= set(by):
    return None
  return Outcome(float(np.mean([r.pick.test_error for r in by['evolution']])),
                 float(np.mean([r.pick.test_error for r in by['random']])),
                 evolution_beats_random(runs),
                 edge_note(runs, learning_rates))


NO_OUTCOME = ('No comparison: evolution and random search must both have '
              'run.')


def outcome_sentence(o: Outcome | None, space_size: int) -> str:
  """The comparison in one sentence: the verdict section's last line and
  the headline."""
  if o is None:
    return NO_OUTCOME
  return ('Evolution vs random search on the picks\' test error, '
          f'{100 * o.evolution_test:.2f}% vs {100 * o.random_test:.2f}%: '
          + o.comparison.describe('evolution', 'random', scale=100,
                                  unit='points')
          + f'{o.edge}. The space holds {space_size} candidates.')


def verdict(runs: list[SearchRun], candidates_per_search: int,
            space_size: int, learning_rates) -> str:
  said = [
      f'{m.method}: after {candidates_per_search} candidates, best '
      f'validation error {report.pct(*m.val_error)}%, its test error '
      f'{report.pct(*m.test_error)}%, optimism {100 * m.optimism:+.2f} '
      f'points (mean over {m.searches} search seeds). Mean depth of its '
      f'candidates {m.depth_all:.2f}; of its best 10% {m.depth_top:.2f}.'
      for m in method_summaries(runs)]
  o = outcome(runs, learning_rates)
  if o is not None:
    said.append(outcome_sentence(o, space_size))
  return '\n'.join(f'- {s}' for s in said)


def _verdict(summary) -> str:
  return verdict(runs_of(summary), summary['candidates_per_search'],
                 summary['space_size'],
                 summary['config']['search_learning_rates'])


def render_markdown(summary) -> str:
  cfg = summary['config']
  return '\n'.join([
      '# Can the structure be found automatically? Evolution vs random '
      'search', '',
      f'{cfg["dataset"]}; MLPs with depth in {tuple(cfg["depths"])}, one '
      f'width for all layers from {tuple(cfg["widths"])}, activation in '
      f'{tuple(cfg["activations"])}, Adam learning rate in '
      f'{tuple(cfg["search_learning_rates"])}, at most {cfg["budget"]:,} '
      f'parameters: {summary["space_size"]} candidates in the space. Each '
      f'search trains {summary["candidates_per_search"]} candidates '
      f'({cfg["population_size"]} random, then {cfg["generations"]} '
      f'generations of {cfg["children_per_generation"]}), each '
      f'{cfg["num_epochs"]} epochs with its own seed; fitness is the '
      'validation error. Regularized evolution: tournaments of '
      f'{cfg["sample_size"]} from a population of {cfg["population_size"]},'
      ' one mutation (depth ±1, width one step, activation, learning rate '
      'one step), the oldest leaves (Real et al. 2019). Random search: '
      f'uniform over the space. {cfg["search_seeds"]} search seeds each; '
      'evolution is ahead ("supported") or behind ("contradicted") only '
      "when the 95% interval of the difference of the picks' test error, "
      'over the search seeds and the test examples they share '
      '(`stats.compare`), excludes 0. "Not bracketed" beside it: picks sat '
      'at an end of the learning-rate space.',
      '', picks_table(runs_of(summary)), '', _verdict(summary), '',
      '![best-so-far validation error against candidates trained]'
      '(results.png)', '',
      'The optimism of a pick grows with the number of candidates compared '
      '(see the optimism study): a search is training on its validation '
      'set, and only the test split, read once at the end, says how good '
      'the pick is.', '', report.run_footer(summary), ''])


def plot(summary, path: str) -> None:
  plt = report.pyplot()
  fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
  colors = {'evolution': 'tab:blue', 'random': 'tab:orange'}
  for method, runs in _by_method(runs_of(summary)).items():
    curves = 100 * np.array([r.best_so_far for r in runs])
    x = np.arange(1, curves.shape[1] + 1)
    mean = curves.mean(0)
    axes[0].plot(x, mean, color=colors.get(method), label=method)
    axes[0].fill_between(x, curves.min(0), curves.max(0), alpha=0.2,
                         color=colors.get(method))
    depths = [c.depth for r in runs for c in r.candidates]
    axes[1].hist(depths, bins=np.arange(0.5, max(depths) + 1.5),
                 alpha=0.5, color=colors.get(method), label=method)
  axes[0].set_xlabel('candidates trained (per search)')
  axes[0].set_ylabel('best validation error so far (%)')
  axes[0].set_title('mean over search seeds (band: min to max)')
  axes[1].set_xlabel('depth of the candidates trained')
  axes[1].set_ylabel('candidates')
  for ax in axes:
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
  fig.suptitle(f'{summary["config"]["dataset"]}: architecture search under '
               f'{summary["config"]["budget"]:,} parameters')
  report.save_figure(fig, path)
  plt.close(fig)


def console(summary) -> str:
  return picks_table(runs_of(summary)) + '\n\n' + _verdict(summary)


def headline(summary) -> str:
  """The claim's verdict in one line (the lecture report's)."""
  return outcome_sentence(
      outcome(runs_of(summary), summary['config']['search_learning_rates']),
      summary['space_size'])
