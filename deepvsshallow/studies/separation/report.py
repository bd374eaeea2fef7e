"""Separation's report: the nets, the layer-by-layer table, the verdict on
"separability rises with depth", the figures and the headline, all from a
summary."""

from __future__ import annotations

import dataclasses

import numpy as np

from deepvsshallow import report, runner, selection, stats

FAMILIES = ('deep', 'shallow')
MEASURES = {'probe_accuracy': 'probe accuracy', 'fisher': 'Fisher ratio'}


@dataclasses.dataclass(frozen=True)
class Net(runner.Record):
  """One trained net (the nets' table): its pick and its scores."""
  family: str                      # 'deep' or 'shallow'
  hidden_widths: tuple[int, ...]
  param_count: int
  scores: runner.Scores


@dataclasses.dataclass(frozen=True)
class Layer(runner.Record):
  """The pair measured in one layer of one net (layer 0: the input), one
  value per seed of each measure; the table prints mean ± std (ddof=1)."""
  family: str                      # 'deep' or 'shallow'
  layer: int
  width: int
  probe_accuracy_per_seed: tuple[float, ...]
  fisher_per_seed: tuple[float, ...]
  # The probe's right (1) or wrong on each of the pair's test examples, per
  # seed (runner.encode_examples): what pairs the probe comparisons.
  probe_examples: str = ''

  def per_seed(self, measure: str) -> tuple[float, ...]:
    """One of MEASURES, per seed."""
    return getattr(self, f'{measure}_per_seed')

  def mean(self, measure: str) -> float:
    return selection.mean_std(self.per_seed(measure))[0]

  def std(self, measure: str) -> float:
    return selection.mean_std(self.per_seed(measure))[1]


@dataclasses.dataclass(frozen=True)
class Projection(runner.Record):
  """The pair's test examples shown (`projection_labels`) in one layer of
  one net, projected to 2-D by `method` (seed 0's net)."""
  family: str                      # 'deep' or 'shallow'
  layer: int
  method: str                      # 'pca' or 'tsne'
  points: tuple[tuple[float, float], ...]


def nets_of(summary) -> list[Net]:
  return [Net.from_json(n) for n in summary['nets']]


def layers_of(summary) -> list[Layer]:
  return [Layer.from_json(r) for r in summary['rows']]


def projections_of(summary) -> list[Projection]:
  return [Projection.from_json(p) for p in summary['projections']]


def anchor() -> str:
  """What was published (pictures, no table of numbers)."""
  return ('Mohamed, Hinton & Penn 2012 (t-SNE of TIMIT layers); the '
          'lecture\'s MNIST 4 vs 9.')


def layer_table(rows: list[Layer]) -> str:
  return report.markdown_table(
      ['net', 'layer', 'width', 'probe accuracy %', 'Fisher ratio'],
      [[r.family, 'input' if r.layer == 0 else f'hidden {r.layer}',
        r.width, report.pct(r.mean('probe_accuracy'),
                            r.std('probe_accuracy')),
        f'{r.mean("fisher"):.3f} ± {r.std("fisher"):.3f}'] for r in rows])


def nets_table(nets: list[Net]) -> str:
  return report.markdown_table(
      ['net', 'hidden', 'params', 'lr', 'val error %', 'test error %'],
      [[n.family, 'x'.join(map(str, n.hidden_widths)),
        f'{n.param_count:,}', f'{n.scores.learning_rate:g}',
        report.pct(n.scores.val_mean, n.scores.val_std),
        report.pct(n.scores.test_mean, n.scores.test_std)] for n in nets])


def higher(a: Layer, b: Layer, key: str) -> stats.Comparison:
  """The claim "`key` (probe_accuracy or fisher) is higher in row a than in
  row b". The probes are paired over the pair's test examples (each seed's
  right or wrong on each; the input layer's is the same for every seed); a
  Fisher ratio is one number per seed, so it is over seeds only."""
  if key == 'probe_accuracy' and a.probe_examples and b.probe_examples:
    return stats.compare_or_no_interval(
        runner.decode_examples(a.probe_examples),
        runner.decode_examples(b.probe_examples), higher_is_better=True)
  return stats.compare_or_no_interval(a.per_seed(key), b.per_seed(key),
                                      higher_is_better=True)


def _describe(c: stats.Comparison, a: str, b: str, key: str) -> str:
  if key == 'probe_accuracy':
    return c.describe(a, b, scale=100, unit='points')
  return c.describe(a, b, fmt='+.3g')


def _scores(nets: list[Net], family: str) -> runner.Scores | None:
  return next((n.scores for n in nets if n.family == family), None)


@dataclasses.dataclass(frozen=True)
class Claim:
  """The lecture's claim on the deep net, "separability rises with depth",
  decided once: the verdict section and the headline are both rendered
  from it."""
  verdict: str                     # One of stats.VERDICTS.
  # Each measure (MEASURES), the last hidden layer against the input.
  comparisons: dict[str, stats.Comparison]
  note: str                        # runner.edge_note of the deep net's pick.


def claim(rows: list[Layer], nets: list[Net]) -> Claim:
  """Each measure of the deep net compared between its last hidden layer
  and the input: supported when both rise (each comparison supported),
  contradicted when either falls, otherwise inconclusive."""
  deep = [r for r in rows if r.family == 'deep']
  c = {key: higher(deep[-1], deep[0], key) for key in MEASURES}
  verdicts = {v.verdict for v in c.values()}
  verdict = ('contradicted' if 'contradicted' in verdicts else
             'supported' if verdicts == {'supported'} else 'inconclusive')
  return Claim(verdict, c, runner.edge_note(deep=_scores(nets, 'deep')))


def claim_said(claim_: Claim) -> str:
  """The claim's line (the verdict's last and the headline)."""
  c = claim_.comparisons
  return ('The lecture\'s claim (separability rises with depth; the deep '
          f'net\'s last hidden layer against its input): {claim_.verdict} ('
          + '; '.join(f'{MEASURES[k]} ' + _describe(c[k], 'last', 'input', k)
                      for k in MEASURES) + f'){claim_.note}.')


def verdict(rows: list[Layer], nets: list[Net]) -> str:
  deep = [r for r in rows if r.family == 'deep']
  shallow = [r for r in rows if r.family == 'shallow']
  acc = [r.mean('probe_accuracy') for r in deep]
  fisher = [r.mean('fisher') for r in deep]
  vs = {k: higher(deep[-1], shallow[-1], k) for k in MEASURES}
  said = [
      f'Deep net, input to last hidden layer (seed means): probe accuracy '
      f'{" → ".join(f"{100 * a:.1f}" for a in acc)}%; Fisher ratio '
      f'{" → ".join(f"{f:.3g}" for f in fisher)}.',
      f'Last hidden layer, deep vs the matched shallow net: probe '
      f'{100 * deep[-1].mean("probe_accuracy"):.1f}% vs '
      f'{100 * shallow[-1].mean("probe_accuracy"):.1f}% ('
      + _describe(vs['probe_accuracy'], 'deep', 'shallow', 'probe_accuracy')
      + f'), Fisher ratio {deep[-1].mean("fisher"):.3g} vs '
      f'{shallow[-1].mean("fisher"):.3g} ('
      + _describe(vs['fisher'], 'deep', 'shallow', 'fisher') + ')'
      + runner.edge_note(deep=_scores(nets, 'deep'),
                         shallow=_scores(nets, 'shallow')) + '.']
  if acc[0] >= 0.97:
    said.append(f'The pair is already linearly separable at the input '
                f'(probe {100 * acc[0]:.1f}%), so the probe has little room '
                'to rise.')
  said.append(claim_said(claim(rows, nets)))
  return '\n'.join(f'- {s}' for s in said)


def render_markdown(summary) -> str:
  cfg = summary['config']
  a, b = summary['pair']
  rows = layers_of(summary)
  source = ('set in the config' if summary['pair_from'] == 'config' else
            'the pair the deep net confuses most on validation')
  n = summary['pair_examples']
  return '\n'.join([
      f'# Do deeper layers pull {a} and {b} apart? ({cfg["dataset"]})', '',
      f'Classes {a} vs {b} ({source}). Both nets are trained on every class; '
      f'the pair is measured in each layer\'s activations: a logistic-'
      f'regression probe (C = {cfg["probe_l2"]:g}, standardised features) '
      f'fitted on the pair\'s {n["train"]} training examples and scored on '
      f'its {n["test"]} test examples, and the Fisher ratio tr(S_B)/tr(S_W) '
      f'of the test activations. Mean ± std over {cfg["num_seeds"]} seeds.',
      '', nets_table(nets_of(summary)), '', layer_table(rows), '',
      'Each comparison: the difference of the means with its 95% interval '
      '(stats.compare): for the probes over the seeds and the pair\'s test '
      'examples (each seed\'s right or wrong on each), for the Fisher ratio '
      'over the seeds only (one number per seed); supported: the interval '
      'lies above 0. The claim is supported when both measures rise from the '
      'input to the deep net\'s last hidden layer, contradicted when either '
      'falls, else inconclusive.', '',
      verdict(rows, nets_of(summary)), '',
      '![probe accuracy and Fisher ratio per layer](separation.png)', '',
      '![PCA and t-SNE of the pair, per layer](projections.png)', '',
      'The probe\'s training examples are ones the nets were trained on, so '
      'late layers may separate them more easily than new data; the probe is '
      'scored on test examples the nets never saw.', '',
      report.run_footer(summary), ''])


def plot_scores(summary, path: str) -> None:
  plt = report.pyplot()
  fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
  layers = layers_of(summary)
  for family, color in (('deep', 'tab:blue'), ('shallow', 'tab:orange')):
    rows = [r for r in layers if r.family == family]
    x = [r.layer for r in rows]
    for ax, key, scale in ((axes[0], 'probe_accuracy', 100),
                           (axes[1], 'fisher', 1)):
      ax.errorbar(x, [scale * r.mean(key) for r in rows],
                  yerr=[scale * r.std(key) for r in rows], marker='o',
                  color=color, capsize=2, label=f'{family} net')
  a, b = summary['pair']
  axes[0].set_ylabel(f'linear probe test accuracy, {a} vs {b} (%)')
  axes[1].set_ylabel('Fisher ratio tr(S_B)/tr(S_W)')
  for ax in axes:
    ax.set_xlabel('layer (0 = input)')
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
  fig.suptitle(f'{summary["config"]["dataset"]}: classes {a} and {b}, layer '
               'by layer')
  report.save_figure(fig, path)
  plt.close(fig)


def plot_projections(summary, path: str) -> None:
  plt = report.pyplot()
  methods = tuple(summary['config']['projections'])
  shown = {(p.family, p.layer, p.method): p for p in projections_of(summary)}
  columns = sorted({(family, layer) for family, layer, _ in shown},
                   key=lambda fl: (FAMILIES.index(fl[0]), fl[1]))
  if not methods or not columns:
    return
  labels = np.asarray(summary['projection_labels'])
  a, b = summary['pair']
  fig, axes = plt.subplots(len(methods), len(columns), squeeze=False,
                           figsize=(2.3 * len(columns), 2.3 * len(methods)))
  for j, (family, layer) in enumerate(columns):
    for i, method in enumerate(methods):
      ax = axes[i, j]
      xy = np.asarray(shown[(family, layer, method)].points)
      for value, name, color in ((0, a, 'tab:blue'), (1, b, 'tab:red')):
        ax.scatter(*xy[labels == value].T, s=4, color=color, label=str(name))
      ax.set_xticks([])
      ax.set_yticks([])
      if i == 0:
        ax.set_title(f'{family}: ' + ('input' if layer == 0
                                      else f'hidden {layer}'), fontsize=9)
      if j == 0:
        ax.set_ylabel(method.upper() if method == 'pca' else 't-SNE')
  axes[0, 0].legend(fontsize=7, markerscale=2)
  fig.suptitle(f'{summary["config"]["dataset"]}: test examples of {a} and '
               f'{b} in each layer (seed 0)')
  report.save_figure(fig, path)
  plt.close(fig)


def headline(summary) -> str:
  """The claim's verdict in one line (the lecture report's)."""
  return claim_said(claim(layers_of(summary), nets_of(summary)))


def console(summary) -> str:
  rows = layers_of(summary)
  return layer_table(rows) + '\n\n' + verdict(rows, nets_of(summary))
