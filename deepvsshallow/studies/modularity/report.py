"""Modularity's report: the sweep's table, the verdict on "the modular net
needs less rare data", Sagawa et al. 2020's table beside ours (CelebA), the
figure and the headline, all from a summary."""

from __future__ import annotations

import dataclasses

from deepvsshallow import reference, report, runner, selection, stats
from deepvsshallow.studies.modularity.config import APPROACHES, RARE

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
  # Each population's picked learning rate (one_vs_rest: one per group;
  # None: that population diverged entirely).
  learning_rates: tuple[float | None, ...]
  status: str                      # 'done' or 'diverged'
  rare: Accuracy | None = None     # The rare group's accuracy.
  worst_group: Accuracy | None = None
  mean_over_groups: Accuracy | None = None
  overall: Accuracy | None = None  # The whole test set's.
  per_group_mean: tuple[float, ...] = ()   # Each group's, mean over seeds.

  @property
  def done(self) -> bool:
    return self.status == 'done'

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
  erm, dro = table['standard_regularization'], table['strong_l2']
  return (f'Sagawa et al. 2020 (CelebA, blond men {groups["blond_male"]:,} '
          f'of {sum(groups.values()):,}): ERM {erm["erm_average"]}% '
          f'average, {erm["erm_worst_group"]}% worst group; group DRO with '
          f'strong ℓ2 {dro["dro_average"]}% and {dro["dro_worst_group"]}%.')


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


def _fewest_for(rows: list[Row], approach, level: float):
  """The fewest rare examples at which an approach's rare-group accuracy
  reaches `level` (None: never)."""
  done = sorted((r.rare_count, r.rare.mean) for r in rows
                if r.approach == approach and r.done)
  return next((n for n, acc in done if acc >= level), None)


def modular_beats_flat(modular: Row, flat: Row) -> stats.Comparison:
  """The claim "the modular net is more accurate on the rare group than the
  flat one" at one rare count, on each seed's rare-group test accuracy."""
  return stats.compare_seeds(modular.rare.per_seed, flat.rare.per_seed,
                             higher_is_better=True)


def _counts(ns) -> str:
  return ', '.join(str(n) for n in ns)


@dataclasses.dataclass(frozen=True)
class Claim:
  """The lecture's claim, "the modular net needs far less rare data",
  decided once from the comparison at each rare count: the verdict section
  and the headline are both rendered from it."""
  verdict: str                     # One of stats.VERDICTS.
  # modular_beats_flat at each rare count where both were trained.
  comparisons: dict[int, stats.Comparison]
  ahead: tuple[int, ...]           # Rare counts where the modular net is
  behind: tuple[int, ...]          # ahead / behind beyond the spread.

  @property
  def tested(self) -> bool:
    return bool(self.comparisons)


def claim(rows: list[Row]) -> Claim:
  """Supported when the modular net is ahead beyond the seeds' spread at
  some rare count and behind at none, contradicted when behind at some and
  ahead at none, else inconclusive (also when never tested)."""
  rows = [r for r in rows if r.done]
  comparisons = {}
  for n in sorted({r.rare_count for r in rows}):
    at = {r.approach: r for r in rows if r.rare_count == n}
    if 'flat' in at and 'modular' in at:
      comparisons[n] = modular_beats_flat(at['modular'], at['flat'])
  ahead = tuple(n for n, c in comparisons.items() if c.verdict == 'supported')
  behind = tuple(n for n, c in comparisons.items()
                 if c.verdict == 'contradicted')
  verdict = ('supported' if ahead and not behind else
             'contradicted' if behind and not ahead else 'inconclusive')
  return Claim(verdict, comparisons, ahead, behind)


def claim_said(claim_: Claim) -> str:
  """The claim's line (the verdict's last and the headline)."""
  ahead, behind = claim_.ahead, claim_.behind
  if not claim_.tested:
    words = ('not tested: the flat and the modular net were not both '
             'trained at any rare count')
  elif ahead and not behind:
    words = (f'the modular net is ahead of the flat one on the rare group '
             f'at {_counts(ahead)} rare examples and behind at none')
  elif behind and not ahead:
    words = (f'the flat net is ahead of the modular one on the rare group '
             f'at {_counts(behind)} rare examples and behind at none')
  elif ahead:
    words = (f'the modular net is ahead at {_counts(ahead)} rare examples '
             f'and behind at {_counts(behind)}')
  else:
    words = ('the modular and the flat net are within the seeds\' spread at '
             f'every rare count ({_counts(claim_.comparisons)})')
  return ('The lecture\'s claim (the modular net needs far less rare '
          f'data): {claim_.verdict}: {words}.')


def verdict(rows: list[Row]) -> str:
  decided = claim(rows)
  rows = [r for r in rows if r.done]
  said = []
  for n, c in decided.comparisons.items():
    at = {r.approach: r for r in rows if r.rare_count == n}
    f, m = at['flat'], at['modular']
    said.append(
        f'{n} rare examples: modular {100 * m.rare.mean:.1f}% vs flat '
        f'{100 * f.rare.mean:.1f}% on the rare group ('
        + c.describe('modular', 'flat', scale=100, unit='points') + ').')
  level = 0.9
  fewest = {a: _fewest_for(rows, a, level) for a in APPROACHES}
  said.append(f'Fewest rare examples to reach {100 * level:.0f}% on the rare '
              'group: ' + ', '.join(
                  f'{a} {"never (in this sweep)" if n is None else n}'
                  for a, n in fewest.items()
                  if any(r.approach == a for r in rows)) + '.')
  said.append(claim_said(decided))
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
      'Modular vs flat: the difference of the seeds\' mean rare-group '
      'accuracies, in Welch\'s 95% interval (stats.compare_seeds); '
      'supported: the modular net is ahead beyond the seeds\' spread.', '',
      verdict(rows), '', '![rare-group, worst-group and mean accuracy]'
      '(results.png)', '']
  if cfg['source'] == 'celeb_a':
    lines += [
        '## Beside Sagawa et al. 2020 (CelebA, Blond_Hair x Male)', '',
        'Their task is Blond_Hair (2-way) with the 4 groups as the metric; '
        'ours is the 4-way group itself, so the numbers are neighbours, not '
        'the same experiment.', '',
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
            'one_vs_rest': 'tab:green'}
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
  """The claim's verdict in one line (the lecture report's)."""
  return claim_said(claim(rows_of(summary)))


def console(summary) -> str:
  rows = rows_of(summary)
  return results_table(rows) + '\n\n' + verdict(rows)
