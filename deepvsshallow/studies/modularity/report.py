"""Modularity's report: the sweep's table, the verdict on "the modular net
needs less rare data", Sagawa et al. 2020's table beside ours (CelebA), the
figure and the headline, all from a summary."""

from __future__ import annotations

from deepvsshallow import reference, report, stats
from deepvsshallow.studies.modularity.config import APPROACHES, RARE


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


def results_table(summary) -> str:
  out = []
  for r in summary['rows']:
    if r['status'] != 'done':
      out.append([r['rare_count'], r['approach'], f'{r["param_count"]:,}',
                  'diverged', '', '', ''])
      continue
    out.append([r['rare_count'], r['approach'], f'{r["param_count"]:,}',
                report.pct(r['rare_mean'], r['rare_std']),
                report.pct(r['worst_group_mean'], r['worst_group_std']),
                report.pct(r['mean_over_groups_mean'],
                           r['mean_over_groups_std']),
                report.pct(r['overall_mean'], r['overall_std'])])
  return report.markdown_table(
      ['rare train examples', 'approach', 'params', 'rare-group acc %',
       'worst-group acc %', 'mean over groups %', 'test set acc %'], out)


def _fewest_for(rows, approach, level: float):
  """The fewest rare examples at which an approach's rare-group accuracy
  reaches `level` (None: never)."""
  done = sorted((r['rare_count'], r['rare_mean']) for r in rows
                if r['approach'] == approach and r['status'] == 'done')
  return next((n for n, acc in done if acc >= level), None)


def modular_beats_flat(modular: dict, flat: dict) -> stats.Comparison:
  """The claim "the modular net is more accurate on the rare group than the
  flat one" at one rare count, on each seed's rare-group test accuracy."""
  return stats.compare_seeds(modular['rare_per_seed'], flat['rare_per_seed'],
                             higher_is_better=True)


def _counts(ns) -> str:
  return ', '.join(str(n) for n in ns)


def claim(comparisons: dict[int, stats.Comparison]) -> str:
  """The lecture's claim from the comparisons at each rare count: the
  modular net ahead beyond the seeds' spread at some count and behind at
  none."""
  if not comparisons:
    return ('not tested here: the flat and the modular net were not both '
            'trained at any rare count')
  ahead = [n for n, c in comparisons.items() if c.verdict == 'supported']
  behind = [n for n, c in comparisons.items() if c.verdict == 'contradicted']
  if ahead and not behind:
    return (f'supported: the modular net is ahead of the flat one on the '
            f'rare group at {_counts(ahead)} rare examples and behind at '
            'none')
  if behind and not ahead:
    return (f'contradicted: the flat net is ahead of the modular one on the '
            f'rare group at {_counts(behind)} rare examples and behind at '
            'none')
  if ahead:
    return (f'not supported here: the modular net is ahead at '
            f'{_counts(ahead)} rare examples and behind at {_counts(behind)}')
  return ('not supported here: the modular and the flat net are within the '
          'seeds\' spread at every rare count '
          f'({_counts(comparisons)})')


def verdict(summary) -> str:
  rows = [r for r in summary['rows'] if r['status'] == 'done']
  said = []
  comparisons = {}
  for n in sorted({r['rare_count'] for r in rows}):
    at = {r['approach']: r for r in rows if r['rare_count'] == n}
    if 'flat' in at and 'modular' in at:
      f, m = at['flat'], at['modular']
      c = comparisons[n] = modular_beats_flat(m, f)
      said.append(
          f'{n} rare examples: modular {100 * m["rare_mean"]:.1f}% vs flat '
          f'{100 * f["rare_mean"]:.1f}% on the rare group ('
          + c.describe('modular', 'flat', scale=100, unit='points') + ').')
  level = 0.9
  fewest = {a: _fewest_for(rows, a, level) for a in APPROACHES}
  said.append(f'Fewest rare examples to reach {100 * level:.0f}% on the rare '
              'group: ' + ', '.join(
                  f'{a} {"never (in this sweep)" if n is None else n}'
                  for a, n in fewest.items()
                  if any(r['approach'] == a for r in rows)) + '.')
  said.append('The lecture\'s claim (the modular net needs far less rare '
              f'data): {claim(comparisons)}.')
  return '\n'.join(f'- {s}' for s in said)


def render_markdown(summary) -> str:
  cfg = summary['config']
  names = summary['group_names']
  counts = summary['test_group_counts']
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
      'picked on validation.', '', results_table(summary), '',
      'Modular vs flat: the difference of the seeds\' mean rare-group '
      'accuracies, in an interval of ± 2 standard errors '
      '(stats.compare_seeds); supported: the modular net is ahead beyond '
      'the seeds\' spread.', '',
      verdict(summary), '', '![rare-group, worst-group and mean accuracy]'
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
  rows = [r for r in summary['rows'] if r['status'] == 'done']
  fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), sharey=True)
  colors = {'flat': 'tab:orange', 'modular': 'tab:blue',
            'one_vs_rest': 'tab:green'}
  for ax, key, title in ((axes[0], 'rare', 'rare group'),
                         (axes[1], 'worst_group', 'worst group'),
                         (axes[2], 'mean_over_groups', 'mean over groups')):
    for approach, color in colors.items():
      pts = sorted((r for r in rows if r['approach'] == approach),
                   key=lambda r: r['rare_count'])
      if pts:
        ax.errorbar([r['rare_count'] for r in pts],
                    [100 * r[f'{key}_mean'] for r in pts],
                    yerr=[100 * r[f'{key}_std'] for r in pts], marker='o',
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
  return verdict(summary).splitlines()[-1][2:]
