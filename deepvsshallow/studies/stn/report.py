"""The spatial transformer study's report: our test errors beside Jaderberg
et al. 2015's Table 1, whether each transformer beats its plain
counterpart, the sampling demo, the rectification figure and the headline."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

from deepvsshallow import data as data_lib
from deepvsshallow import reference, report, runner, stats
from deepvsshallow.studies.stn.config import NEAREST

# Each transformer and the plain model it is compared with.
PAIRS = (('ST-FCN', 'FCN'), ('ST-CNN', 'CNN'))


@dataclasses.dataclass(frozen=True)
class Row(runner.Record):
  """One model on one distortion: the table's row."""
  distortion: str           # 'R' or 'RTS'
  model: str                # 'FCN', 'CNN', 'ST-FCN', 'ST-CNN' or NEAREST
  param_count: int
  scores: runner.Scores
  # Mean |theta - identity| of the picked seed-0 transformer on test (an ST
  # model that finished), and the localisation net's gradient norm at
  # initialisation (the ST-FCNs, bilinear and nearest); None otherwise.
  theta_shift_from_identity: float | None = None
  loc_grad_norm_at_init: float | None = None


def rows_of(summary) -> list[Row]:
  return [Row.from_json(r) for r in summary['rows']]


def _paper() -> dict:
  """Table 1's rows for our four models (the transformers: affine)."""
  rows = reference.load_csv('stn2015_distorted_mnist.csv')
  keep = {('FCN', 'none'), ('CNN', 'none'), ('ST-FCN', 'affine'),
          ('ST-CNN', 'affine')}
  return {r['model']: r for r in rows if (r['model'], r['transform']) in keep}


def anchor() -> str:
  """The published numbers (reference/stn2015_distorted_mnist.csv)."""
  paper = _paper()
  cell = lambda name: f'{name} {paper[name]["R"]} / {paper[name]["RTS"]}%'
  return (f'Jaderberg et al. 2015, distorted MNIST: {cell("FCN")}, '
          f'{cell("ST-FCN")} (R / RTS), {cell("CNN")}, {cell("ST-CNN")}.')


def results_table(rows: list[Row], kinds) -> str:
  paper = _paper()
  by = {(r.distortion, r.model): r for r in rows}
  names = list(dict.fromkeys(r.model for r in rows))
  header = ['model', f'params ({" / ".join(kinds)})'] + [
      f'{k} test err % (ours)' for k in kinds] + [
          f'{k} paper %' for k in kinds]
  out = []
  for name in names:
    cells = [name, ' / '.join(f'{by[(k, name)].param_count:,}'
                              if (k, name) in by else '-' for k in kinds)]
    for k in kinds:
      r = by.get((k, name))
      cells.append('' if r is None else 'diverged' if not r.scores.done
                   else report.pct(r.scores.test_mean, r.scores.test_std))
    base = name.split(' ')[0]
    cells += [paper[base][k] if base in paper and name == base else ''
              for k in kinds]
    out.append(cells)
  return report.markdown_table(header, out)


def lower_error(a: Row, b: Row) -> stats.Comparison:
  """The claim "a has the lower test error than b", paired over the test
  examples of their distortion."""
  return runner.compare(a.scores, b.scores)


def _judged(a: Row, b: Row) -> str:
  """'A − B = d [low, high] points: verdict' and the edge note."""
  return (lower_error(a, b).describe(a.model, b.model, scale=100,
                                     unit='points')
          + runner.edge_note(**{a.model: a.scores, b.model: b.scores}))


def _pairs(rows: list[Row], kinds) -> list[tuple[str, Row, Row]]:
  """(kind, transformer row, plain row) for each pair that finished."""
  by = {(r.distortion, r.model): r for r in rows if r.scores.done}
  return [(kind, by[(kind, st)], by[(kind, plain)])
          for kind in kinds for st, plain in PAIRS
          if (kind, st) in by and (kind, plain) in by]


def transformer_verdict(rows: list[Row], kinds) -> str:
  """One line per transformer and distortion: does it beat its plain
  counterpart on test error?"""
  said = []
  for kind, st, plain in _pairs(rows, kinds):
    said.append(
        f'{kind}: {st.model} {100 * st.scores.test_mean:.2f}% vs '
        f'{plain.model} {100 * plain.scores.test_mean:.2f}% test error; '
        + _judged(st, plain) + '.')
  return '\n'.join(f'- {s}' for s in said)


def nearest_note(rows: list[Row]) -> str:
  by = {r.model: r for r in rows if r.distortion == 'RTS'} or {
      r.model: r for r in rows}
  b, n = by.get('ST-FCN'), by.get(NEAREST)
  if not b or not n or not b.scores.done or not n.scores.done:
    return ''
  return (
      f'Sampling and gradients ({b.distortion}): at initialisation the '
      f'loss gradient reaching the localisation net has norm '
      f'{b.loc_grad_norm_at_init:.3g} with bilinear sampling and '
      f'{n.loc_grad_norm_at_init:.3g} with nearest-pixel rounding. After '
      f'training, theta moved {b.theta_shift_from_identity:.3f} (mean '
      f'|theta - identity|) with bilinear and '
      f'{n.theta_shift_from_identity:.3f} with nearest; test error '
      f'{report.pct(b.scores.test_mean, b.scores.test_std)}% vs '
      f'{report.pct(n.scores.test_mean, n.scores.test_std)}% ('
      f'{_judged(b, n)}).')


def render_markdown(summary) -> str:
  ds, cfg, rows = summary['dataset'], summary['config'], rows_of(summary)
  kinds = cfg['distortions']
  lines = [
      '# Spatial transformers on distorted digits', '',
      f'Ours: {ds["name"]} (train {ds["train"]}, validation {ds["validation"]}, '
      f'test {ds["test"]}), each image padded by {cfg["margin"]} pixels, then '
      f'distorted: R rotates by up to ±90° on a {ds["canvas"].get("R", "-")}'
      f'-pixel canvas; RTS rotates by up to ±45°, scales by 0.7-1.2 and places '
      f'the digit at random on a {ds["canvas"].get("RTS", "-")}-pixel canvas. '
      f'Transformers resample to {ds["st_output"]}x{ds["st_output"]}. Mean ± '
      f'std over {cfg["num_seeds"]} seeds; learning rate picked on validation.',
      '',
      'The paper: MNIST (60,000 training images of 28x28, canvas 42x42 for '
      'RTS), its own training schedule, and affine transformers; its numbers '
      'are copied from Jaderberg et al. 2015, Table 1 '
      '(deepvsshallow/reference/stn2015_distorted_mnist.csv). The datasets '
      'differ, so compare the ordering of the models, not the numbers.', '',
      results_table(rows, kinds), '',
      'Does each transformer beat its plain counterpart? The difference of '
      'test errors with its 95% interval over the seeds and the test '
      'examples (paired: stats.compare); supported or contradicted only '
      'when the interval excludes 0.', '',
      transformer_verdict(rows, kinds), '',
      nearest_note(rows), '',
      report.run_footer(summary), '']
  return '\n'.join(lines)


def plot_rectification(runs, tests, distorted, path: str, n: int = 10) -> None:
  """Rows: test inputs, then what each picked ST model made of them."""
  plt = report.pyplot()
  panels = []
  for kind, name, _, p in runs:
    if not name.startswith('ST-') or p.pick is None:
      continue
    inputs = data_lib.prepare_inputs(tests[kind].inputs[:n],
                                     distorted[kind].input_convention)
    if not any(k == kind for k, _, _ in panels):
      panels.append((kind, f'{kind} input', inputs[..., 0]))
    out = p.member(0).transformer(jnp.asarray(inputs))
    panels.append((kind, f'{name}', np.asarray(out)[..., 0]))
  if not panels:
    return
  fig, axes = plt.subplots(len(panels), n, figsize=(n * 0.9, len(panels) * 1.0),
                           squeeze=False)
  for row, (_, label, imgs) in zip(axes, panels):
    for j, ax in enumerate(row):
      ax.imshow(imgs[j], cmap='gray', vmin=0, vmax=1)
      ax.set_xticks([])
      ax.set_yticks([])
    row[0].set_ylabel(label, rotation=0, ha='right', va='center', fontsize=8)
  fig.suptitle('Test inputs and what the trained transformers made of them')
  report.save_figure(fig, path)
  plt.close(fig)


def console(summary) -> str:
  rows, kinds = rows_of(summary), summary['config']['distortions']
  return (results_table(rows, kinds) + '\n\n'
          + transformer_verdict(rows, kinds) + '\n\n' + nearest_note(rows))


def headline(summary) -> str:
  """The claim's verdicts in one line (the lecture report's): each
  transformer against its plain counterpart on each distortion, each pair
  with its own verdict (no pooled verdict: a transformer may help on RTS
  and not on R, and the line says which)."""
  parts = [f'{kind}: {st.model} {100 * st.scores.test_mean:.2f}% vs '
           f'{plain.model} {100 * plain.scores.test_mean:.2f}% ('
           + _judged(st, plain) + ')'
           for kind, st, plain in _pairs(rows_of(summary),
                                         summary['config']['distortions'])]
  if not parts:
    return ('No comparison: a transformer and its plain counterpart must '
            'both have finished on one distortion.')
  return 'Test error ' + '; '.join(parts) + '.'
