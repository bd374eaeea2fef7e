"""End to end's report: the table of classifiers on raw signals and on the
front end's features, whether learning the pipeline beats the hand-crafted
one, the figure and the headline, all from a summary."""

from __future__ import annotations

import dataclasses

from deepvsshallow import report, runner, stats
from deepvsshallow.studies.end_to_end.config import CLASSIFIERS


@dataclasses.dataclass(frozen=True)
class Row(runner.Record):
  """One classifier on one input: the table's row."""
  classifier: str           # 'linear', 'shallow', 'deep' or 'cnn'
  inputs: str               # 'raw' or 'features'
  model: str                # e.g. 'MLP 16x16'
  input_dim: int
  param_count: int
  scores: runner.Scores


def rows_of(summary) -> list[Row]:
  return [Row.from_json(r) for r in summary['rows']]


def anchor() -> str:
  """No published table to reproduce: the lecture's pipeline, its source,
  and the result the lecture cites."""
  return ('The lecture\'s speech pipeline (DFT → filter bank → log → DCT → '
          'MFCC; Davis & Mermelstein 1980). The lecture\'s evidence, '
          'Sainath et al. 2015 (Interspeech, "Learning the speech front-end '
          'with raw waveform CLDNNs"): on over 2,000 hours of voice search, '
          'a raw-waveform CLDNN matched log-mel filterbank features (a tie, '
          'not a win); stacking both cut word error by 3% relative.')


def results_table(rows: list[Row]) -> str:
  return report.markdown_table(
      ['classifier', 'input', 'model', 'params', 'lr', 'val error %',
       'test error %'],
      [[r.classifier, r.inputs, r.model, f'{r.param_count:,}',
        f'{r.scores.learning_rate:g}' if r.scores.done else '-',
        report.pct(r.scores.val_mean, r.scores.val_std)
        if r.scores.done else 'n/a',
        report.pct(r.scores.test_mean, r.scores.test_std)
        if r.scores.done else 'diverged'] for r in rows])


def _best(rows: list[Row], inputs, classifiers=None) -> Row | None:
  """The candidate a researcher would pick: lowest validation error (test
  only reports on the pick), among `classifiers` (None: any)."""
  done = [r for r in rows if r.scores.done and r.inputs in inputs
          and (classifiers is None or r.classifier in classifiers)]
  return min(done, key=lambda r: r.scores.val_mean) if done else None


def raw_beats_features(raw: Row, features: Row) -> stats.Comparison:
  """The claim "learned on raw signals beats the front end's features", on
  test error paired over the test examples (the features are computed from
  the same test signals, in the same order)."""
  return runner.compare(raw.scores, features.scores)


@dataclasses.dataclass(frozen=True)
class Claim:
  """The lecture's claim judged: the best end to end (a deep net or a CNN on
  raw signals) against the best on the features, each picked on validation.
  Its verdict is the comparison's: supported when end to end beats the
  features, contradicted when the features beat it, else inconclusive."""
  learned: Row
  crafted: Row
  comparison: stats.Comparison   # "end to end beats the features".

  @property
  def verdict(self) -> str:
    return self.comparison.verdict


def claim(rows: list[Row]) -> Claim | None:
  """None: no finished deep net or CNN on raw signals, or no finished
  classifier on the features."""
  learned = _best(rows, ('raw',), classifiers=('deep', 'cnn'))
  crafted = _best(rows, ('features',))
  if not learned or not crafted:
    return None
  return Claim(learned, crafted, raw_beats_features(learned, crafted))


NO_CLAIM = ('No comparison: a deep net or a CNN on raw signals and a '
            'classifier on the features must both have finished.')


def claim_sentence(c: Claim | None) -> str:
  """The claim's outcome in one sentence: the verdict section's last line
  and the headline."""
  if c is None:
    return NO_CLAIM
  relation = {'supported': 'beats', 'contradicted': 'loses to'}.get(
      c.verdict, 'against')
  return (
      f'Picked on validation, the best end to end ({c.learned.classifier} '
      f'on raw, {100 * c.learned.scores.test_mean:.1f}% test error) '
      f'{relation} the best on the hand-crafted features '
      f'({c.crafted.classifier}, {100 * c.crafted.scores.test_mean:.1f}%): '
      'test error, ' + c.comparison.describe('end to end', 'features',
                                             scale=100, unit='points')
      + runner.edge_note(**{'end to end': c.learned.scores,
                            'features': c.crafted.scores})
      + '. The lecture\'s claim (learning the pipeline ties with or beats '
      f'the hand-crafted one): {c.verdict}.')


def verdict(rows: list[Row]) -> str:
  said = []
  by = {(r.classifier, r.inputs): r for r in rows if r.scores.done}
  for classifier in CLASSIFIERS:
    if (classifier, 'raw') in by and (classifier, 'features') in by:
      a, b = by[(classifier, 'raw')], by[(classifier, 'features')]
      c = raw_beats_features(a, b)
      said.append(
          f'{classifier}: raw {100 * a.scores.test_mean:.1f}% vs features '
          f'{100 * b.scores.test_mean:.1f}% test error; '
          + c.describe('raw', 'features', scale=100, unit='points')
          + runner.edge_note(raw=a.scores, features=b.scores) + '.')
  outcome = claim(rows)
  if outcome is not None:
    said.append(claim_sentence(outcome))
  return '\n'.join(f'- {s}' for s in said)


# What the dataset makes of the comparison, under the verdicts.
_NOTES = {
    'syllables': (
        'A front end is only as good as its fit to the signal. Here it fits: '
        'the class is the vowel, set by its formants alone (a spectral '
        'envelope), while pitch, phase, onset and noise are drawn apart from '
        'it (deepvsshallow/syllables.py), and MFCCs keep the envelope and '
        'drop phase and fine timing. This is the hand-crafted front end\'s '
        'home ground; `:mnist1d` is the contrast, where it is not.'),
    'mnist1d': (
        'A front end is only as good as its fit to the signal: MFCCs keep a '
        'short-time spectrum envelope and drop phase and fine position. '
        "MNIST-1D's classes are shapes at positions, so there it is a weak "
        'baseline (the contrast to the default, speech-like syllables).'),
    'spoken_digit': (
        'Real speech: MFCCs are the classic features for it, and 2,700 '
        'training recordings are far from the 2,000 hours at which Sainath '
        'et al. saw raw waveforms tie with them.'),
}


def render_markdown(summary) -> str:
  cfg, rows = summary['config'], rows_of(summary)
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
      'Matched parameter counts: the deep MLP on the features takes the '
      'width that fits the raw deep MLP\'s count, each shallow MLP matches '
      'the deep one on its input, and the CNN over the feature frames '
      'matches the raw CNN (logistic regression is its input\'s size). '
      f'Mean ± std over {cfg["num_seeds"]} seeds; learning rate '
      'picked on validation. A difference is stated with its 95% interval '
      'over the seeds and the test examples (paired: stats.compare): the '
      'claim is supported or contradicted only when the interval excludes '
      '0.', '',
      results_table(rows), '',
      verdict(rows), '', '![test error](results.png)', '',
      _NOTES.get(cfg['dataset'], ''), '',
      report.run_footer(summary), ''])


def plot(summary, path: str) -> None:
  plt = report.pyplot()
  rows = [r for r in rows_of(summary) if r.scores.done]
  classifiers = [c for c in CLASSIFIERS if any(r.classifier == c
                                               for r in rows)]
  fig, ax = plt.subplots(figsize=(7, 3.8))
  width = 0.38
  for j, (inputs, color) in enumerate((('raw', 'tab:blue'),
                                       ('features', 'tab:orange'))):
    xs, ys, es = [], [], []
    for i, c in enumerate(classifiers):
      r = next((r for r in rows if r.classifier == c
                and r.inputs == inputs), None)
      if r:
        xs.append(i + (j - 0.5) * width)
        ys.append(100 * r.scores.test_mean)
        es.append(100 * r.scores.test_std)
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


def console(summary) -> str:
  rows = rows_of(summary)
  return results_table(rows) + '\n\n' + verdict(rows)


def headline(summary) -> str:
  """The claim's verdict in one line (the lecture report's)."""
  return claim_sentence(claim(rows_of(summary)))
