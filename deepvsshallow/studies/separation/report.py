"""Separation's report: the nets, the layer-by-layer table, the verdict on
"separability rises with depth", the figures and the headline, all from a
summary."""

from __future__ import annotations

import dataclasses

import numpy as np

from deepvsshallow import report, runner, selection, stats

FAMILIES = ('deep', 'shallow', 'narrow')
LABELS = {'deep': 'deep', 'shallow': 'shallow, equal parameters',
          'narrow': 'shallow, equal width'}
# Each measure: its label; the measures with per-example scores pair their
# comparisons over the test examples (EXAMPLES), the others are one number
# per seed.
MEASURES = {'probe_accuracy': 'pair probe',
            'fisher': 'pair Fisher',
            'all_pairs_probe': 'all-pairs probe',
            'all_pairs_fisher': 'all-pairs Fisher'}
EXAMPLES = {'probe_accuracy': 'probe_examples',
            'all_pairs_probe': 'all_pairs_examples'}
PROBES = ('probe_accuracy', 'all_pairs_probe')


@dataclasses.dataclass(frozen=True)
class Net(runner.Record):
  """One trained net (the nets' table): its pick and its scores."""
  family: str                      # One of FAMILIES.
  hidden_widths: tuple[int, ...]
  param_count: int
  scores: runner.Scores


@dataclasses.dataclass(frozen=True)
class Layer(runner.Record):
  """Classes measured in one layer of one net (layer 0: the input), one
  value per seed of each measure (MEASURES); the table prints mean ± std
  (ddof=1). The pair's: its probe's accuracy and its Fisher ratio in the
  layer's top principal directions. All pairs': the all-class probe's
  accuracy over each example's pairs, and the mean Fisher ratio over the
  pairs."""
  family: str                      # One of FAMILIES.
  layer: int
  width: int
  probe_accuracy_per_seed: tuple[float, ...]
  fisher_per_seed: tuple[float, ...]
  # The probe's right (1) or wrong on each of the pair's test examples, per
  # seed (runner.encode_examples): what pairs the probe comparisons.
  probe_examples: str = ''
  all_pairs_probe_per_seed: tuple[float, ...] = ()
  all_pairs_fisher_per_seed: tuple[float, ...] = ()
  # Each test example's accuracy against the other classes, per seed.
  all_pairs_examples: str = ''

  def per_seed(self, measure: str) -> tuple[float, ...]:
    """One of MEASURES, per seed."""
    return getattr(self, f'{measure}_per_seed')

  def mean(self, measure: str) -> float:
    return selection.mean_std(self.per_seed(measure))[0]

  def std(self, measure: str) -> float:
    return selection.mean_std(self.per_seed(measure))[1]

  @property
  def name(self) -> str:
    return 'input' if self.layer == 0 else f'hidden {self.layer}'


@dataclasses.dataclass(frozen=True)
class Projection(runner.Record):
  """The pair's test examples shown (`projection_labels`) in one layer of
  one net, projected to 2-D by `method` (seed 0's net)."""
  family: str                      # One of FAMILIES.
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


def _cell(r: Layer, key: str) -> str:
  if key in PROBES:
    return report.pct(r.mean(key), r.std(key))
  return f'{r.mean(key):.3f} ± {r.std(key):.3f}'


def measured(rows: list[Layer]) -> list[str]:
  """The measures every row holds (a summary from before all pairs were
  measured has the pair's two only)."""
  return [k for k in MEASURES if all(r.per_seed(k) for r in rows)]


def layer_table(rows: list[Layer]) -> str:
  keys = measured(rows)
  return report.markdown_table(
      ['net', 'layer', 'width'] + [MEASURES[k] + (' %' if k in PROBES else '')
                                   for k in keys],
      [[LABELS[r.family], r.name, r.width] + [_cell(r, k) for k in keys]
       for r in rows])


def nets_table(nets: list[Net]) -> str:
  return report.markdown_table(
      ['net', 'hidden', 'params', 'lr', 'val error %', 'test error %'],
      [[LABELS[n.family], 'x'.join(map(str, n.hidden_widths)),
        f'{n.param_count:,}', f'{n.scores.learning_rate:g}',
        report.pct(n.scores.val_mean, n.scores.val_std),
        report.pct(n.scores.test_mean, n.scores.test_std)] for n in nets])


def higher(a: Layer, b: Layer, key: str) -> stats.Comparison:
  """The claim "`key` (one of MEASURES) is higher in row a than in row b".
  A probe is paired over the test examples it scored (each seed's score on
  each; the input layer's is the same for every seed); a Fisher ratio is
  one number per seed, so it is over seeds only."""
  field = EXAMPLES.get(key)
  if field and getattr(a, field) and getattr(b, field):
    return stats.compare_or_no_interval(
        runner.decode_examples(getattr(a, field)),
        runner.decode_examples(getattr(b, field)), higher_is_better=True)
  return stats.compare_or_no_interval(a.per_seed(key), b.per_seed(key),
                                      higher_is_better=True)


def _describe(c: stats.Comparison, a: str, b: str, key: str) -> str:
  if key in PROBES:
    return c.describe(a, b, scale=100, unit='points')
  return c.describe(a, b, fmt='+.3g')


def _short(c: stats.Comparison, key: str) -> str:
  """'+1.2 [−0.3, +2.7] inconclusive', for a table cell."""
  scale, fmt = (100, '+.1f') if key in PROBES else (1, '+.3g')
  f = lambda x: format(scale * x, fmt)
  interval = (f' [{f(c.low)}, {f(c.high)}]' if np.isfinite(c.low) else '')
  return f'{f(c.difference)}{interval} {c.verdict}'


def _scores(nets: list[Net], family: str) -> runner.Scores | None:
  return next((n.scores for n in nets if n.family == family), None)


def _of(rows: list[Layer], family: str) -> list[Layer]:
  return [r for r in rows if r.family == family]


def steps_table(rows: list[Layer]) -> str:
  """Each hidden layer against the layer below it, each measure: what each
  layer adds."""
  keys = measured(rows)
  lines = []
  for family in FAMILIES:
    net = _of(rows, family)
    for below, r in zip(net, net[1:]):
      lines.append([LABELS[family], f'{r.name} − {below.name}']
                   + [_short(higher(r, below, k), k) for k in keys])
  return report.markdown_table(['net', 'step'] + [MEASURES[k] for k in keys],
                               lines)


@dataclasses.dataclass(frozen=True)
class Claim:
  """The lecture's claim on the deep net, "separability rises with depth",
  decided once: the verdict section and the headline are both rendered
  from it."""
  verdict: str                     # One of stats.VERDICTS.
  # Each measure (MEASURES), the last hidden layer against the input.
  comparisons: dict[str, stats.Comparison]
  note: str                        # runner.edge_note of the deep net's pick.


def _all_of(comparisons) -> str:
  """The verdict of a claim made on every measure (`stats.deciding`)."""
  cs = list(comparisons)
  return cs[stats.deciding(cs)].verdict


def claim(rows: list[Layer], nets: list[Net]) -> Claim:
  """Each measure of the deep net compared between its last hidden layer
  and the input: supported when every one rises (each comparison
  supported), contradicted when any falls, otherwise inconclusive."""
  deep = _of(rows, 'deep')
  c = {key: higher(deep[-1], deep[0], key) for key in measured(rows)}
  return Claim(_all_of(c.values()), c,
               runner.edge_note(deep=_scores(nets, 'deep')))


@dataclasses.dataclass(frozen=True)
class DepthAgainst:
  """The deep net's last hidden layer against a one-layer net's (`other`:
  'shallow' at equal parameters, 'narrow' at equal width), each measure:
  does depth separate better than one layer? Decided once."""
  other: str
  verdict: str
  comparisons: dict[str, stats.Comparison]
  note: str


def depth_against(rows: list[Layer], nets: list[Net]) -> list[DepthAgainst]:
  """One per one-layer net trained (none for a summary without it)."""
  deep = _of(rows, 'deep')
  out = []
  for other in FAMILIES[1:]:
    if not (net := _of(rows, other)):
      continue
    c = {key: higher(deep[-1], net[-1], key) for key in measured(rows)}
    out.append(DepthAgainst(other, _all_of(c.values()), c, runner.edge_note(
        deep=_scores(nets, 'deep'), **{other: _scores(nets, other)})))
  return out


def claim_said(claim_: Claim) -> str:
  """The claim's line (the verdict's last and the headline)."""
  c = claim_.comparisons
  return ('The lecture\'s claim (separability rises with depth; the deep '
          f'net\'s last hidden layer against its input): {claim_.verdict} ('
          + '; '.join(f'{MEASURES[k]} ' + _describe(c[k], 'last', 'input', k)
                      for k in c) + f'){claim_.note}.')


def against_said(d: DepthAgainst) -> str:
  c = d.comparisons
  return (f'Deep against {LABELS[d.other]}, last hidden layers: {d.verdict} '
          '(' + '; '.join(f'{MEASURES[k]} '
                          + _describe(c[k], 'deep', d.other, k) for k in c)
          + f'){d.note}.')


def verdict(rows: list[Layer], nets: list[Net]) -> str:
  deep = _of(rows, 'deep')
  said = []
  for key in measured(rows):
    values = [r.mean(key) for r in deep]
    shown = (' → '.join(f'{100 * v:.1f}' for v in values) + '%'
             if key in PROBES else ' → '.join(f'{v:.3g}' for v in values))
    said.append(f'Deep net, {MEASURES[key]}, input to last hidden layer '
                f'(seed means): {shown}.')
  if deep[0].mean('probe_accuracy') >= 0.97:
    said.append(f'The pair is already linearly separable at the input '
                f'(probe {100 * deep[0].mean("probe_accuracy"):.1f}%), so '
                'the probe has little room to rise.')
  said += [against_said(d) for d in depth_against(rows, nets)]
  said.append(claim_said(claim(rows, nets)))
  return '\n'.join(f'- {s}' for s in said)


def render_markdown(summary) -> str:
  cfg = summary['config']
  a, b = summary['pair']
  rows = layers_of(summary)
  nets = nets_of(summary)
  source = ('set in the config' if summary['pair_from'] == 'config' else
            'the pair the deep net confuses most on validation')
  n = summary['pair_examples']
  k = cfg.get('fisher_components', 10)
  return '\n'.join([
      f'# Do deeper layers pull {a} and {b} apart? ({cfg["dataset"]})', '',
      f'Classes {a} vs {b} ({source}), and every pair of classes. Three nets '
      'are trained on every class: the deep net, a one-hidden-layer net '
      'with its parameter count, and one with its width. Each layer\'s '
      'activations are measured: a logistic-regression probe (C = '
      f'{cfg["probe_l2"]:g}, standardised features) on the pair, fitted on '
      f'its {n["train"]} training examples and scored on its {n["test"]} '
      'test examples; one probe over every class, each test example judged '
      'against each other class by the probe\'s two scores (the all-pairs '
      'probe: the mean over its pairs); and the Fisher ratio tr(S_B)/tr(S_W)'
      f' of the test activations in the layer\'s top {k} principal '
      'directions (fitted on its training activations), for the pair and '
      'averaged over every pair. The ratio in all of a layer\'s dimensions '
      'would fall with width (a wide layer\'s many directions of small, '
      'class-free variance add to tr(S_W)); in k dimensions every layer is '
      f'measured alike. Mean ± std over {cfg["num_seeds"]} seeds.', '',
      nets_table(nets), '', layer_table(rows), '',
      'Each comparison: the difference of the means with its 95% interval '
      '(stats.compare): for the probes over the seeds and the test examples '
      '(each seed\'s score on each), for the Fisher ratios over the seeds '
      'only (one number per seed); supported: the interval lies above 0. '
      'What each layer adds over the layer below:', '',
      steps_table(rows), '',
      'The claim is supported when every measure rises from the input to the '
      'deep net\'s last hidden layer, contradicted when any falls, else '
      'inconclusive; depth against one layer likewise, on the last hidden '
      'layers.', '',
      verdict(rows, nets), '',
      '![probe accuracy and Fisher ratio per layer](separation.png)', '',
      '![PCA and t-SNE of the pair, per layer](projections.png)', '',
      'The probe\'s training examples are ones the nets were trained on, so '
      'late layers may separate them more easily than new data; the probe is '
      'scored on test examples the nets never saw.', '',
      report.run_footer(summary), ''])


def plot_scores(summary, path: str) -> None:
  plt = report.pyplot()
  layers = layers_of(summary)
  keys = measured(layers)
  fig, axes = plt.subplots(1, len(keys), figsize=(4.6 * len(keys), 3.8),
                           squeeze=False)
  colors = dict(zip(FAMILIES, ('tab:blue', 'tab:orange', 'tab:green')))
  for family in FAMILIES:
    rows = _of(layers, family)
    if not rows:
      continue
    x = [r.layer for r in rows]
    for ax, key in zip(axes[0], keys):
      scale = 100 if key in PROBES else 1
      ax.errorbar(x, [scale * r.mean(key) for r in rows],
                  yerr=[scale * r.std(key) for r in rows], marker='o',
                  color=colors[family], capsize=2, label=LABELS[family])
  a, b = summary['pair']
  for ax, key in zip(axes[0], keys):
    ax.set_title(MEASURES[key] + ('' if key.startswith('all_pairs') else
                                  f' ({a} vs {b})'), fontsize=10)
    ax.set_ylabel('test accuracy (%)' if key in PROBES else
                  'tr(S_B)/tr(S_W), top-k PCA')
    ax.set_xlabel('layer (0 = input)')
    ax.grid(True, alpha=0.3)
  axes[0, 0].legend(fontsize=8)
  fig.suptitle(f'{summary["config"]["dataset"]}: classes apart, layer by '
               'layer')
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
  """The claim's verdict in one line (the lecture report's), then depth
  against one layer."""
  rows, nets = layers_of(summary), nets_of(summary)
  return ' '.join([claim_said(claim(rows, nets))]
                  + [against_said(d) for d in depth_against(rows, nets)])


def console(summary) -> str:
  rows = layers_of(summary)
  return layer_table(rows) + '\n\n' + verdict(rows, nets_of(summary))
