"""End to end's report: the table of classifiers on raw signals and on the
front end's features, whether learning the pipeline ties with or beats the
hand-crafted one, the figure and the headline, all from a summary."""

from __future__ import annotations

from deepvsshallow import report, stats
from deepvsshallow.studies.end_to_end.config import CLASSIFIERS


def anchor() -> str:
  """No published table to reproduce: the lecture's pipeline and its
  source."""
  return ('The lecture\'s speech pipeline (DFT → filter bank → log → DCT → '
          'MFCC; Davis & Mermelstein 1980).')


def results_table(rows) -> str:
  return report.markdown_table(
      ['classifier', 'input', 'model', 'params', 'lr', 'val error %',
       'test error %'],
      [[r['classifier'], r['inputs'], r['model'], f'{r["param_count"]:,}',
        f'{r["learning_rate"]:g}' if r['status'] == 'done' else '-',
        report.pct(r.get('val_error_mean'), r.get('val_error_std')),
        report.pct(r.get('test_error_mean'), r.get('test_error_std'))
        if r['status'] == 'done' else 'diverged'] for r in rows])


def _best(rows, **match):
  """The candidate a researcher would pick: lowest validation error (test
  only reports on the pick)."""
  done = [r for r in rows if r['status'] == 'done'
          and all(r[k] in v for k, v in match.items())]
  return min(done, key=lambda r: r['val_error_mean']) if done else None


def raw_beats_features(raw: dict, features: dict) -> stats.Comparison:
  """The claim "learned on raw signals beats the front end's features", on
  test error per seed."""
  return stats.compare_seeds(raw['test_per_seed'], features['test_per_seed'],
                             higher_is_better=False)


# The best end to end against the best on the features, in words.
WORDS = {'supported': 'beats', 'inconclusive': 'ties with',
         'contradicted': 'loses to'}


def verdict(rows) -> str:
  said = []
  by = {(r['classifier'], r['inputs']): r for r in rows
        if r['status'] == 'done'}
  for classifier in ('linear', 'shallow', 'deep'):
    if (classifier, 'raw') in by and (classifier, 'features') in by:
      a, b = by[(classifier, 'raw')], by[(classifier, 'features')]
      c = raw_beats_features(a, b)
      said.append(
          f'{classifier}: raw {100 * a["test_error_mean"]:.1f}% vs features '
          f'{100 * b["test_error_mean"]:.1f}% test error; '
          + c.describe('raw', 'features', scale=100, unit='points') + '.')
  learned = _best(rows, inputs=('raw',), classifier=('deep', 'cnn'))
  crafted = _best(rows, inputs=('features',))
  if learned and crafted:
    c = raw_beats_features(learned, crafted)
    said.append(
        f'Picked on validation, the best end to end ({learned["classifier"]} '
        f'on raw, {100 * learned["test_error_mean"]:.1f}% test error) '
        f'{WORDS[c.verdict]} the best on the hand-crafted features '
        f'({crafted["classifier"]}, '
        f'{100 * crafted["test_error_mean"]:.1f}%): test error, '
        + c.describe('end to end', 'features', scale=100, unit='points')
        + '. The lecture\'s claim (learning the pipeline ties with or beats '
        'the hand-crafted one): '
        + ('contradicted.' if c.verdict == 'contradicted' else 'supported.'))
  return '\n'.join(f'- {s}' for s in said)


def render_markdown(summary) -> str:
  cfg = summary['config']
  f = cfg['frontend']
  t, c = summary['feature_shape']
  bank = (f'mel, {f["sample_rate"]} Hz' if f['sample_rate']
          else 'linear in frequency')
  return '\n'.join([
      f'# End to end vs a hand-crafted front end ({cfg["dataset"]})', '',
      f'Front end: frames of {f["frame_length"]} samples every {f["hop"]}, '
      f'periodic Hann window, DFT power, {f["num_filters"]} triangular '
      f'filters ({bank}), log, DCT-II keeping {f["num_coeffs"]} '
      f'coefficients: {t} x {c} features per example, standardised with '
      'the training split\'s mean and spread. Raw: the signal as stored. '
      'Shallow nets match the deep net\'s parameter count on the same '
      f'input. Mean ± std over {cfg["num_seeds"]} seeds; learning rate '
      'picked on validation. A difference is stated with its interval '
      '(± 2 standard errors over the seeds): the claim is supported or '
      'contradicted only when the interval excludes 0.', '',
      results_table(summary['rows']), '',
      verdict(summary['rows']), '', '![test error](results.png)', '',
      'A front end is only as good as its fit to the signal: MFCCs keep a '
      'short-time spectrum envelope and drop phase and fine position, which '
      'suits speech. MNIST-1D\'s classes are shapes at positions, so there '
      'it is a weak baseline; `:spoken_digit` is the fair test on speech.',
      '',
      report.run_footer(summary), ''])


def plot(summary, path: str) -> None:
  plt = report.pyplot()
  rows = [r for r in summary['rows'] if r['status'] == 'done']
  classifiers = [c for c in CLASSIFIERS if any(r['classifier'] == c
                                               for r in rows)]
  fig, ax = plt.subplots(figsize=(7, 3.8))
  width = 0.38
  for j, (inputs, color) in enumerate((('raw', 'tab:blue'),
                                       ('features', 'tab:orange'))):
    xs, ys, es = [], [], []
    for i, c in enumerate(classifiers):
      r = next((r for r in rows if r['classifier'] == c
                and r['inputs'] == inputs), None)
      if r:
        xs.append(i + (j - 0.5) * width)
        ys.append(100 * r['test_error_mean'])
        es.append(100 * r['test_error_std'])
    ax.bar(xs, ys, width, yerr=es, capsize=3, color=color,
           label=f'{inputs} input' + (' (MFCC)' if inputs == 'features'
                                      else ''))
  ax.set_xticks(range(len(classifiers)), classifiers)
  ax.set_ylabel('test error (%)')
  ax.grid(True, axis='y', alpha=0.3)
  ax.legend()
  ax.set_title(f'{summary["config"]["dataset"]}: learned end to end vs a '
               'hand-crafted front end')
  report.save_figure(fig, path)
  plt.close(fig)


def headline(summary) -> str:
  """The claim's verdict in one line (the lecture report's)."""
  lines = [l for l in verdict(summary['rows']).splitlines()
           if "lecture's claim" in l]
  return lines[-1][2:] if lines else (
      'No comparison: a deep net or a CNN on raw signals and a classifier on '
      'the features must both have finished.')
