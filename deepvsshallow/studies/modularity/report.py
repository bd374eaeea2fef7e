"""Modularity's report: the sweep's table, the verdicts on "the modular net
needs less rare data" (against each baseline), Sagawa et al. 2020's table
beside ours (CelebA), the figure and the headline, all from a summary."""

from __future__ import annotations

import dataclasses

import numpy as np

from deepvsshallow import reference, report, runner, selection, stats
from deepvsshallow.studies.modularity.config import BASELINES, RARE

# The accuracies of a row, each over the test set's 4 groups (Sagawa et al.
# 2020's metrics) and over the whole test set.
MEASURES = ('rare', 'worst_group', 'mean_over_groups', 'overall')


@dataclasses.dataclass(frozen=True)
class Accuracy(runner.Record):
  """One test accuracy per seed (replicate); the table prints mean ± std
  (ddof=1)."""
  per_seed: tuple[float, ...]

  @property
  def mean(self) -> float:
    return selection.mean_std(self.per_seed)[0]

  @property
  def std(self) -> float:
    return selection.mean_std(self.per_seed)[1]


@dataclasses.dataclass(frozen=True)
class Row(runner.Record):
  """One approach at one rare count: the table's row. Its accuracies are
  None when a population of it diverged entirely."""
  rare_count: int
  approach: str                    # One of APPROACHES.
  model: str                       # e.g. 'MLP 64x64, 4-way softmax'
  param_count: int                 # All of the approach's nets together.
  # Each population's pick (one_vs_rest: one per group), scored on its own
  # task: the learning rate, its grid, whether it diverged.
  picks: tuple[runner.Scores, ...]
  # Each seed's 0/1 correctness on each of the rare group's test examples
  # (runner.encode_examples), the same examples for every row: what the
  # modular-vs-flat comparison pairs.
  rare_examples: str = ''
  worst_group: Accuracy | None = None
  mean_over_groups: Accuracy | None = None
  overall: Accuracy | None = None  # The whole test set's.
  per_group_mean: tuple[float, ...] = ()   # Each group's, mean over seeds.

  @property
  def done(self) -> bool:
    return all(s.done for s in self.picks)

  @property
  def rare_correct(self) -> np.ndarray | None:
    """(seeds, the rare group's test examples), 1 where right."""
    return runner.decode_examples(self.rare_examples) if (
        self.rare_examples) else None

  @property
  def rare(self) -> Accuracy | None:
    """The rare group's test accuracy, per seed."""
    c = self.rare_correct
    return None if c is None else Accuracy(tuple(c.mean(1).tolist()))

  def accuracy(self, measure: str) -> Accuracy:
    """One of MEASURES."""
    return getattr(self, measure)


def rows_of(summary) -> list[Row]:
  return [Row.from_json(r) for r in summary['rows']]


def anchor() -> str:
  """The published numbers (reference/sagawa2020_celeba_*.csv)."""
  groups = {r['group']: int(r['train_count'])
            for r in reference.load_csv('sagawa2020_celeba_groups.csv')}
  table = {r['setting']: r for r in reference.load_csv(
      'sagawa2020_celeba_accuracy.csv')}
  row = table['strong_l2']   # ERM and group DRO from the same row.
  return (f'Sagawa et al. 2020 (CelebA, blond men {groups["blond_male"]:,} '
          f'of {sum(groups.values()):,}; strong ℓ2, Table 1): ERM '
          f'{row["erm_average"]}% average, {row["erm_worst_group"]}% worst '
          f'group; group DRO {row["dro_average"]}% and '
          f'{row["dro_worst_group"]}% (robust training for a rare group, '
          'not modularity).')


def results_table(rows: list[Row]) -> str:
  out = []
  for r in rows:
    if not r.done:
      out.append([r.rare_count, r.approach, f'{r.param_count:,}',
                  'diverged', '', '', ''])
      continue
    out.append([r.rare_count, r.approach, f'{r.param_count:,}',
                *(report.pct(r.accuracy(m).mean, r.accuracy(m).std)
                  for m in MEASURES)])
  return report.markdown_table(
      ['rare train examples', 'approach', 'params', 'rare-group acc %',
       'worst-group acc %', 'mean over groups %', 'test set acc %'], out)


def modular_beats(modular: Row, other: Row,
                  confidence: float = 0.95) -> stats.Comparison:
  """The claim "the modular net is more accurate on the rare group than
  `other`" at one rare count: rare-group test accuracy, paired over the
  rare group's test examples (seeds and examples both counted)."""
  return stats.compare_or_no_interval(modular.rare_correct,
                                      other.rare_correct,
                                      higher_is_better=True,
                                      confidence=confidence)


def _at(ns) -> str:
  return f'{", ".join(map(str, ns))} rare examples' if ns else 'no rare count'


@dataclasses.dataclass(frozen=True)
class Claim:
  """The lecture's claim, "the modular net needs far less rare data", against
  one baseline (one of BASELINES), decided once from modular_beats at each
  rare count: the verdict section and the headline are both rendered from
  it."""
  baseline: str
  verdict: str                     # One of stats.VERDICTS.
  # modular_beats at each rare count where both were trained, and the edge
  # note of the two picks (runner.edge_note).
  comparisons: dict[int, stats.Comparison]
  notes: dict[int, str]
  ahead: tuple[int, ...]           # Rare counts where it is supported /
  behind: tuple[int, ...]          # contradicted.

  @property
  def tested(self) -> bool:
    return bool(self.comparisons)

  @property
  def key(self) -> int | None:
    """The rare count the headline shows: the first that decided the
    verdict, else the first ahead, else the first tested."""
    decided = self.behind if self.verdict == 'contradicted' else self.ahead
    return next(iter(decided or self.comparisons), None)


def claim(rows: list[Row], baseline: str = 'flat') -> Claim:
  """Against `baseline`: supported when the modular net is ahead (supported) at some rare count
  and behind (contradicted) at none: less rare data is where it should
  lead, and with plenty every approach may tie. Contradicted when it is
  behind at some count and ahead at none; inconclusive when both happen,
  when no count is decided, or when the two were never both trained.
  "At some count" looks at K counts, so each interval is Bonferroni's,
  at confidence 1 - 0.05 / K: the chance of a false "ahead" anywhere stays
  under 5% (one-sided, 2.5%)."""
  rows = [r for r in rows if r.done]
  counts = sorted({r.rare_count for r in rows})
  pairs = {n: {r.approach: r for r in rows if r.rare_count == n}
           for n in counts}
  pairs = {n: at for n, at in pairs.items()
           if baseline in at and 'modular' in at}
  comparisons, notes = {}, {}
  for n, at in pairs.items():
    comparisons[n] = modular_beats(at['modular'], at[baseline],
                                   1 - 0.05 / len(pairs))
    notes[n] = runner.edge_note(**{'modular': at['modular'].picks[0],
                                   baseline: at[baseline].picks[0]})
  ahead = tuple(n for n, c in comparisons.items() if c.verdict == 'supported')
  behind = tuple(n for n, c in comparisons.items()
                 if c.verdict == 'contradicted')
  verdict = ('supported' if ahead and not behind else
             'contradicted' if behind and not ahead else 'inconclusive')
  return Claim(baseline, verdict, comparisons, notes, ahead, behind)


def claims(rows: list[Row]) -> list[Claim]:
  """The claim against every baseline trained (the flat one first)."""
  present = {r.approach for r in rows}
  return [claim(rows, b) for b in BASELINES if b in present]


def _compared(claim_: Claim, n: int) -> str:
  return (claim_.comparisons[n].describe('modular', claim_.baseline,
                                         scale=100, unit='points')
          + claim_.notes[n])


def claim_said(claim_: Claim) -> str:
  """The claim's line (the verdict's and the headline's): the verdict,
  where the modular net is ahead and behind, and the key count's
  interval."""
  b = claim_.baseline
  said = ('The lecture\'s claim (the modular net needs far less rare data), '
          f'against {b}: ')
  if not claim_.tested:
    return (said + f'inconclusive: not tested ({b} and the modular net '
            'were not both trained at any rare count).')
  return (said + f'{claim_.verdict}: the modular net is ahead of {b} on '
          f'the rare group at {_at(claim_.ahead)}, behind at '
          f'{_at(claim_.behind)} (at {claim_.key} rare examples, '
          f'{_compared(claim_, claim_.key)}).')


def verdict(rows: list[Row]) -> str:
  decided = claims(rows)
  done = [r for r in rows if r.done]
  said = []
  for n in sorted({n for c in decided for n in c.comparisons}):
    at = {r.approach: r for r in done if r.rare_count == n}
    said.append(
        f'{n} rare examples, rare-group accuracy: modular '
        f'{100 * at["modular"].rare.mean:.1f}%; '
        + '; '.join(f'{c.baseline} {100 * at[c.baseline].rare.mean:.1f}% ('
                    + _compared(c, n) + ')'
                    for c in decided if n in c.comparisons) + '.')
  said += [claim_said(c) for c in decided]
  return '\n'.join(f'- {s}' for s in said)


def render_markdown(summary) -> str:
  cfg = summary['config']
  names = summary['group_names']
  counts = summary['test_group_counts']
  rows = rows_of(summary)
  lines = [
      f'# Modularity: a rare group with few examples ({cfg["source"]})', '',
      f'Attributes {cfg["attributes"][0]} and {cfg["attributes"][1]}; the '
      f'rare group is "{names[RARE]}". Training: {cfg["train_per_group"]:,} '
      'examples of each other group and the rare counts below; validation '
      'in the same proportions; test: '
      + ', '.join(f'{c:,} {n}' for c, n in zip(counts, names)) + '. '
      'Approaches at matched parameter counts: flat (one 4-way MLP), '
      'modular (the same trunk, two attribute heads, the group read from '
      'them), one_vs_rest (4 binary MLPs, a quarter of the budget each). '
      f'Mean ± std over {cfg["num_seeds"]} seeds; each net\'s learning rate '
      'picked on validation.', '', results_table(rows), '',
      'The modular net against each baseline at each rare count: the '
      'difference of their rare-group test accuracies with its interval, '
      'paired over the rare group\'s test examples (stats.compare: seeds '
      'and examples both counted), at confidence 1 − 0.05/K over the K rare '
      'counts (Bonferroni: the claim looks at every count); supported: the '
      'interval lies above 0. The claim against a baseline is supported when '
      'the modular net is ahead at some rare count and behind at none, '
      'contradicted the other way round, else inconclusive. The weighted '
      'baselines weigh each training example\'s loss by its class\'s inverse '
      'frequency, so the rare group is not a tiny class to them.', '',
      verdict(rows), '', '![rare-group, worst-group and mean accuracy]'
      '(results.png)', '']
  if cfg['source'] == 'celeb_a':
    lines += [
        '## Beside Sagawa et al. 2020 (CelebA, Blond_Hair x Male)', '',
        'Their task is Blond_Hair (2-way) with the 4 groups as the metric; '
        'ours is the 4-way group itself, so the numbers are neighbours, not '
        'the same experiment. Their result is about training: group DRO '
        '(minimising the worst group\'s loss) with strong regularisation '
        'lifts the worst group where ERM leaves it behind; it says nothing '
        'of modular features. Each row below is one regularisation, with '
        'ERM and group DRO side by side.', '',
        report.markdown_table(
            ['setting', 'ERM average %', 'ERM worst group %',
             'group DRO average %', 'group DRO worst group %'],
            [[r['setting'].replace('_', ' '), r['erm_average'],
              r['erm_worst_group'], r['dro_average'], r['dro_worst_group']]
             for r in reference.load_csv('sagawa2020_celeba_accuracy.csv')]),
        '', 'Their training split: ' + ', '.join(
            f'{r["group"].replace("_", " ")} {int(r["train_count"]):,}'
            for r in reference.load_csv('sagawa2020_celeba_groups.csv'))
        + '.', '']
  lines += [report.run_footer(summary), '']
  return '\n'.join(lines)


def plot(summary, path: str) -> None:
  plt = report.pyplot()
  rows = [r for r in rows_of(summary) if r.done]
  fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), sharey=True)
  colors = {'flat': 'tab:orange', 'modular': 'tab:blue',
            'one_vs_rest': 'tab:green', 'flat_weighted': 'tab:red',
            'one_vs_rest_weighted': 'tab:olive'}
  for ax, key, title in ((axes[0], 'rare', 'rare group'),
                         (axes[1], 'worst_group', 'worst group'),
                         (axes[2], 'mean_over_groups', 'mean over groups')):
    for approach, color in colors.items():
      pts = sorted((r for r in rows if r.approach == approach),
                   key=lambda r: r.rare_count)
      if pts:
        ax.errorbar([r.rare_count for r in pts],
                    [100 * r.accuracy(key).mean for r in pts],
                    yerr=[100 * r.accuracy(key).std for r in pts], marker='o',
                    capsize=2, color=color, label=approach)
    ax.set_xscale('log')
    ax.set_xlabel('rare-group training examples')
    ax.set_title(f'{title} test accuracy')
    ax.grid(True, which='both', alpha=0.3)
  axes[0].set_ylabel('accuracy (%)')
  axes[0].legend(fontsize=8)
  fig.suptitle(f'Modularity ({summary["config"]["source"]}): '
               f'{summary["group_names"][RARE]} is rare')
  report.save_figure(fig, path)
  plt.close(fig)


def headline(summary) -> str:
  """The claim's verdicts, one per baseline (the lecture report's line)."""
  return ' '.join(claim_said(c) for c in claims(rows_of(summary)))


def console(summary) -> str:
  rows = rows_of(summary)
  return results_table(rows) + '\n\n' + verdict(rows)
