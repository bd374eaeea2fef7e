"""Weight sharing's report: our accuracies beside Greydanus 2020's table,
whether the nets that share weights beat the MLP at the same parameter
budget, what shuffling did, the figure and the headline, all from a
summary."""

from __future__ import annotations

import dataclasses
import itertools

from deepvsshallow import reference, report, runner, stats
from deepvsshallow.studies.weight_sharing.config import FAMILIES


@dataclasses.dataclass(frozen=True)
class Row(runner.Record):
  """One model on one dataset: the table's row."""
  dataset: str
  family: str
  size: str                 # 'paper', 'budget', or 'paper = budget'
  model: str                # e.g. 'cnn channels 25'
  param_count: int
  scores: runner.Scores
  # 'tuned' (the rate picked on validation, the best epoch kept) or 'paper'
  # (the paper's rate, constant, the last step kept).
  protocol: str = 'tuned'

  @property
  def accuracy(self) -> float:
    return 1 - self.scores.test_mean


def rows_of(summary) -> list[Row]:
  return [Row.from_json(r) for r in summary['rows']]


def anchor() -> str:
  """The published numbers (reference/mnist1d2020_models.csv)."""
  paper = _paper_accuracy()
  label = {'logistic': 'logistic', 'mlp': 'MLP', 'cnn': 'CNN', 'gru': 'GRU'}
  plain = ', '.join(f'{label[f]} {paper[("mnist1d", f)]}%' for f in FAMILIES)
  shuffled = ', '.join(f'{label[f]} {paper[("mnist1d_shuffled", f)]}%'
                       for f in ('cnn', 'gru'))
  return (f'Greydanus 2020 (MNIST-1D): {plain} accuracy; shuffled, '
          f'{shuffled}.')


def _paper_accuracy() -> dict[tuple[str, str], str]:
  out = {}
  for r in reference.load_csv('mnist1d2020_models.csv'):
    for family in FAMILIES:
      out[(r['dataset'], family)] = r[family]
  return out


def results_table(rows: list[Row], datasets) -> str:
  paper = _paper_accuracy()
  by = {(r.dataset, r.model, r.size, r.protocol): r for r in rows}
  keys = list(dict.fromkeys((r.model, r.size, r.protocol, r.family)
                            for r in rows))
  header = ['model', 'size', 'protocol', 'params']
  for name in datasets:
    header += [f'{name} acc % (ours)', f'{name} (paper)']
  out = []
  for model, size, protocol, family in keys:
    line = [model, size, protocol,
            f'{by[(datasets[0], model, size, protocol)].param_count:,}']
    for name in datasets:
      r = by[(name, model, size, protocol)]
      acc = ('diverged' if not r.scores.done else
             f'{100 * r.accuracy:.1f} ± {100 * r.scores.test_std:.1f}')
      line += [acc, paper.get((name, family), '') if 'paper' in size
               or family == 'logistic' or protocol == 'paper' else '']
    out.append(line)
  return report.markdown_table(header, out)


def shuffling_hurts(plain: Row, shuffled: Row) -> stats.Comparison:
  """The claim "the plain positions beat the shuffled ones", paired over the
  test examples: valid, as both test sets hold the same examples in the same
  order (mnist1d draws the one position permutation after the examples and
  their order; labels identical): shuffled example i is plain example i
  with its positions permuted."""
  return runner.compare(plain.scores, shuffled.scores)


def verdict(rows: list[Row], datasets) -> str:
  if len(datasets) < 2 or 'mnist1d' not in datasets:
    return ''
  shuffled = next(d for d in datasets if d != 'mnist1d')
  by = {(r.dataset, r.model, r.size, r.protocol): r for r in rows
        if r.scores.done}
  said = []
  for (name, model, size, protocol), r in by.items():
    if name != 'mnist1d' or (shuffled, model, size, protocol) not in by:
      continue
    s = by[(shuffled, model, size, protocol)]
    c = shuffling_hurts(r, s)
    # The paper protocol's one rate is the paper's, not a tuning choice.
    edge = ('' if protocol == 'paper' else
            runner.edge_note(plain=r.scores, shuffled=s.scores))
    said.append(f'{model} ({size}, {protocol} protocol, {r.param_count:,} '
                f'params): {100 * r.accuracy:.1f}% -> '
                f'{100 * s.accuracy:.1f}% when shuffled; test error, '
                + c.describe('plain', 'shuffled', scale=100, unit='points')
                + edge + '.')
  return '\n'.join(f'- {line}' for line in said)


# The families that share weights, each compared with the MLP at the budget.
SHARING = ('cnn', 'gru')
AT_BUDGET = ('budget', 'paper = budget')


def sharing_beats_mlp(shared: Row, mlp: Row) -> stats.Comparison:
  """The claim "at the same parameter budget, the net that shares weights
  beats the MLP", on test error paired over the test examples."""
  return runner.compare(shared.scores, mlp.scores)


@dataclasses.dataclass(frozen=True)
class AtBudget:
  """A weight-sharing net against the MLP at the matched budget on mnist1d.
  No comparison (None) when the budget MLP was not trained or a side
  diverged."""
  shared: Row
  mlp: Row | None                        # None: no MLP at the budget.
  comparison: stats.Comparison | None

  @property
  def verdict(self) -> str | None:
    return self.comparison.verdict if self.comparison else None

  @property
  def judged(self) -> str:
    """'cnn − mlp = d [low, high] points: verdict', and the edge note."""
    return (self.comparison.describe(self.shared.family, 'mlp', scale=100,
                                     unit='points') + runner.edge_note(
        **{self.shared.family: self.shared.scores, 'mlp': self.mlp.scores}))


def budget_comparisons(rows: list[Row]) -> list[AtBudget]:
  """One per weight-sharing family trained at the budget on mnist1d."""
  on = {r.family: r for r in rows
        if r.dataset == 'mnist1d' and r.size in AT_BUDGET
        and r.protocol == 'tuned'}
  mlp = on.get('mlp')
  out = []
  for family in SHARING:
    if family in on:
      shared = on[family]
      both = mlp is not None and mlp.scores.done and shared.scores.done
      out.append(AtBudget(shared, mlp,
                          sharing_beats_mlp(shared, mlp) if both else None))
  return out


NO_BUDGET_COMPARISON = (
    'No comparison at the matched budget: it needs a CNN or a GRU and the '
    "MLP, each at size 'budget', on mnist1d.")


def _at_budget_line(a: AtBudget) -> str:
  shared = f'{a.shared.model} ({a.shared.param_count:,} params)'
  if a.mlp is None:
    return (f'{shared}: the comparison needs the MLP at the budget, which '
            'was not trained (config.families and config.sizes); no '
            'verdict.')
  mlp = f'{a.mlp.model} ({a.mlp.param_count:,} params)'
  if a.comparison is None:
    gone = [r.model for r in (a.shared, a.mlp) if not r.scores.done]
    return f'{shared} vs {mlp}: {" and ".join(gone)} diverged; no verdict.'
  return (f'{shared} vs {mlp}: {100 * a.shared.accuracy:.1f}% vs '
          f'{100 * a.mlp.accuracy:.1f}% accuracy; test error, {a.judged}.')


def budget_verdict(rows: list[Row]) -> str:
  """One line per weight-sharing net: does it beat the MLP at the budget?"""
  said = [_at_budget_line(a) for a in budget_comparisons(rows)]
  return '\n'.join(f'- {line}' for line in said or [NO_BUDGET_COMPARISON])


def render_markdown(summary) -> str:
  cfg, rows, datasets = summary['config'], rows_of(summary), summary['datasets']
  return '\n'.join([
      '# Weight sharing on MNIST-1D (Greydanus 2020)', '',
      f'Test accuracy %, mean ± std over {cfg["num_seeds"]} seeds '
      '(replicates). Two protocols. **tuned**: the learning rate of each '
      f'model picked on validation from {tuple(cfg["learning_rates"])} '
      f'(extended while a pick sat on an end); {cfg["optimizer"]}, '
      f'{cfg["schedule"]} schedule, batch {cfg["batch_size"]}, '
      f'{cfg["num_epochs"]} epochs, the best epoch on validation kept. '
      "**paper**: the paper's own training, for its models: Adam at "
      f'{cfg.get("paper_learning_rate", 1e-2):g}, constant, batch 100, '
      f'about {cfg.get("paper_steps", 8000):,} steps, the last step kept '
      '(no early stopping), as the paper\'s code trains (its text mentions '
      'early stopping; its notebooks log test accuracy every 250 steps). '
      'The paper trains on all 4,000 training examples and reports mean ± '
      'std over 3 runs; we train on 3,400 (validation is held out, and '
      'under the paper protocol only watched). Its '
      'numbers (deepvsshallow/reference/mnist1d2020_models.csv) are for its '
      f'own sizes; "budget" sizes are ours, all near {cfg["budget"]:,} '
      'parameters.', '',
      results_table(rows, datasets), '',
      'Does sharing weights buy accuracy at the same parameter count? Each '
      'net that shares weights against the MLP at the budget on mnist1d '
      '(tuned protocol): '
      'the difference of test errors with its 95% interval over the seeds '
      'and the shared test examples (stats.compare); supported or '
      'contradicted only when the interval excludes 0.', '',
      budget_verdict(rows), '',
      'What shuffling the 40 positions does (one fixed permutation, as in the '
      'paper): a model that shares weights across positions relies on their '
      'order; one that shares nothing does not, so for the MLP and '
      'logistic regression any difference is noise, and its interval '
      'should hold 0.', '',
      verdict(rows, datasets), '',
      report.run_footer(summary), ''])


def console(summary) -> str:
  rows = rows_of(summary)
  return (results_table(rows, summary['datasets']) + '\n\n'
          + budget_verdict(rows))


def plot(summary, path: str) -> None:
  plt = report.pyplot()
  rows = [r for r in rows_of(summary) if r.scores.done]
  fig, ax = plt.subplots(figsize=(7, 4))
  for (name, marker), protocol in itertools.product(
      zip(summary['datasets'], 'os^'), ('tuned', 'paper')):
    pts = [r for r in rows if r.dataset == name and r.protocol == protocol]
    if not pts:
      continue
    ax.errorbar([r.param_count for r in pts], [100 * r.accuracy for r in pts],
                yerr=[100 * r.scores.test_std for r in pts], fmt=marker,
                capsize=3, label=f'{name}, {protocol} protocol',
                mfc='none' if protocol == 'paper' else None)
    for r in pts:
      ax.annotate(r.family, (r.param_count, 100 * r.accuracy), fontsize=7,
                  xytext=(3, 3), textcoords='offset points')
  ax.set_xscale('log')
  ax.set_xlabel('parameters')
  ax.set_ylabel('test accuracy (%)')
  ax.set_title('MNIST-1D: weight sharing vs position shuffling')
  ax.legend()
  ax.grid(True, alpha=0.3)
  report.save_figure(fig, path)
  plt.close(fig)


def _budget_headline(comparisons: list[AtBudget]) -> str:
  if not comparisons:
    return NO_BUDGET_COMPARISON
  parts = [a.judged if a.comparison else f'{a.shared.family}: no verdict ('
           + ('no MLP at the budget' if a.mlp is None else 'diverged') + ')'
           for a in comparisons]
  return ('At the matched budget on MNIST-1D, test error: '
          + '; '.join(parts) + '.')


def headline(summary) -> str:
  """The claim's verdicts in one line (the lecture report's): each net that
  shares weights against the MLP at the budget, each with its own verdict
  (none pooled), then the accuracies (at the budget where a family has
  that size)."""
  rows = rows_of(summary)
  by = {(r.dataset, r.family, r.size): r for r in rows
        if r.scores.done and r.protocol == 'tuned'}
  acc = lambda r: f'{100 * r.accuracy:.1f}%'
  parts = []
  for family in ('mlp', 'cnn', 'gru'):
    sizes = [s for (d, f, s) in by if f == family and d == 'mnist1d']
    size = next((s for s in sizes if s in AT_BUDGET),
                sizes[0] if sizes else None)
    if size is None:
      continue
    plain = by[('mnist1d', family, size)]
    shuffled = by.get(('mnist1d_shuffled', family, size))
    parts.append(f'{family} {plain.param_count:,} params {acc(plain)}'
                 + (f' (shuffled {acc(shuffled)})' if shuffled else ''))
  paper = _paper_accuracy()
  papers = [f'{r.family} {acc(r)} (paper {paper[("mnist1d", r.family)]}%)'
            for r in rows if r.protocol == 'paper' and r.scores.done
            and r.dataset == 'mnist1d']
  return (_budget_headline(budget_comparisons(rows))
          + ' Test accuracy on MNIST-1D: ' + ', '.join(parts) + '.'
          + (" Under the paper's protocol (its rate, "
             f'{summary["config"].get("paper_steps", 8000):,} steps, the last '
             'step kept): ' + ', '.join(papers) + '.' if papers else ''))
