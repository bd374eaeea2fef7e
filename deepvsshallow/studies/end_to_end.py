"""End-to-end learning against a hand-crafted front end (the lecture's speech
pipeline: DFT -> filter bank -> log -> DCT -> MFCC -> a classifier).

The same classifiers are trained on two inputs:

  raw       the signal as the dataset stores it;
  features  the MFCC-style front end of `deepvsshallow.frontend` (frames,
            Hann window, DFT power, triangular filter bank, log, DCT-II),
            then standardised per coefficient with the training split's mean
            and spread (cepstral mean and variance normalisation, the
            pipeline's usual last step).

Classifiers: `linear` (logistic regression), `shallow` (one hidden layer,
parameter-matched to the deep net on the same input), `deep` (an MLP of
`deep_hidden`), and `cnn` (a 1-D CNN, on raw signals only: the end-to-end
learner with weight sharing). Every candidate is picked on validation and
tested once. The lecture claims that learning the whole pipeline ties with
or beats the hand-crafted front end; the report says whether it did.

Files: trials.jsonl, results.json, results.md, results.png.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from deepvsshallow import config as config_lib
from deepvsshallow import data as data_lib
from deepvsshallow import frontend, models, params, report, runner
from deepvsshallow.errors import UsageError

CLASSIFIERS = ('linear', 'shallow', 'deep', 'cnn')
INPUTS = ('raw', 'features')


def front_end(config) -> frontend.FrontEnd:
  f = config.frontend
  return frontend.FrontEnd(
      frame_length=f.frame_length, hop=f.hop, num_filters=f.num_filters,
      num_coeffs=f.num_coeffs, sample_rate=f.sample_rate or None,
      low_hz=f.low_hz, high_hz=f.high_hz or None)


def check_config(config, problems: config_lib.Problems) -> None:
  for name in config.classifiers:
    if name not in CLASSIFIERS:
      problems.add(f'config.classifiers: unknown {name!r}; known: '
                   f'{", ".join(CLASSIFIERS)}.')
  for name in config.inputs:
    if name not in INPUTS:
      problems.add(f'config.inputs: unknown {name!r}; known: '
                   f'{", ".join(INPUTS)}.')
  if not tuple(config.classifiers) or not tuple(config.inputs):
    problems.add('config.classifiers and config.inputs must each name at '
                 'least one.')
  config_lib.int_list(problems, 'deep_hidden', config.deep_hidden)
  config_lib.int_list(problems, 'cnn_channels', config.cnn_channels)
  spec = data_lib.DATASETS.get(config.dataset)
  try:
    fe = front_end(config)
  except UsageError as e:
    problems.add(f'config.frontend: {e}')
    return
  if spec is not None and tuple(spec.input_shape[1:]) != (1, 1):
    problems.add(f'config.dataset={config.dataset!r} is not a 1-D signal '
                 'dataset (inputs (L, 1, 1)); use mnist1d or spoken_digit.')
  elif spec is not None:
    for line in fe.problems(spec.input_shape[0]):
      problems.add(f'config.frontend: {line}')


def _signals(inputs, convention: str) -> np.ndarray:
  """(N, L) float32 signals from stored (N, L, 1, 1) inputs."""
  x = np.asarray(data_lib.prepare_inputs(inputs, convention))
  return x.reshape(len(x), -1)


class Features:
  """The front end, then standardisation with the training split's
  statistics (fitted once, applied to every split)."""

  def __init__(self, fe: frontend.FrontEnd, convention: str, train_inputs,
               chunk: int = 1024):
    self.fe, self.convention, self.chunk = fe, convention, chunk
    raw = self._mfcc(train_inputs)
    self.mean = raw.mean(0)
    std = raw.std(0)
    self.std = np.where(std > 0, std, 1.0).astype(np.float32)

  def _mfcc(self, inputs) -> np.ndarray:
    signals = _signals(inputs, self.convention)
    return np.concatenate([np.asarray(self.fe(signals[i:i + self.chunk]))
                           for i in range(0, len(signals), self.chunk)])

  def __call__(self, split: data_lib.Split) -> data_lib.Split:
    x = (self._mfcc(split.inputs) - self.mean) / self.std
    return data_lib.Split(x[..., None].astype(np.float32), split.targets)


def feature_dataset(ds: data_lib.Dataset, features: Features
                    ) -> data_lib.Dataset:
  """The dataset seen through the front end (its test split too, when read)."""
  train = features(ds.train)
  return dataclasses.replace(
      ds, name=f'{ds.name} (MFCC features)', train=train,
      validation=features(ds.validation),
      input_shape=tuple(train.inputs.shape[1:]), input_convention='float',
      _read_test=lambda: features(ds.test()))


def model_fns(config, ds: data_lib.Dataset, inputs: str):
  """{classifier: (model_fn, description)} for one input."""
  d, k = ds.input_dim, ds.num_classes
  deep = tuple(config.deep_hidden)
  shallow = params.shallow_match(d, deep, k).width
  out = {
      'linear': (functools.partial(models.Linear, d, k), 'logistic'),
      'shallow': (functools.partial(models.MLP, d, (shallow,), k),
                  f'MLP {shallow}'),
      'deep': (functools.partial(models.MLP, d, deep, k),
               f'MLP {"x".join(map(str, deep))}'),
  }
  if inputs == 'raw':
    channels = tuple(config.cnn_channels)
    out['cnn'] = (functools.partial(
        models.CNN1D, ds.input_shape[0], k, channels=channels,
        kernels=(5,) + (3,) * (len(channels) - 1),
        strides=(2,) * len(channels)),
                  f'CNN {"-".join(map(str, channels))}')
  return {c: out[c] for c in config.classifiers if c in out}


def train_and_evaluate(config, workdir: str) -> dict:
  with runner.Run('end_to_end', config, workdir, check=check_config) as run:
    raw = run.load_dataset()
    fe = front_end(config)
    datasets, features = {'raw': raw}, None
    if 'features' in config.inputs:
      run.log('Computing the front end\'s features (train statistics for '
              'the standardisation)...')
      features = Features(fe, raw.input_convention, raw.train.inputs)
      datasets['features'] = feature_dataset(raw, features)
    populations = []
    for inputs in config.inputs:
      ds = datasets[inputs]
      for classifier, (model_fn, desc) in model_fns(config, ds,
                                                    inputs).items():
        populations.append(runner.Population(
            f'{classifier} on {inputs} ({desc})', model_fn, ds,
            info={'classifier': classifier, 'inputs': inputs,
                  'model': desc, 'input_dim': ds.input_dim}))
    picked = run.train_all(populations)
    test = {'raw': run.read_test(raw)}   # Read once; features made from it.
    if features is not None:
      test['features'] = features(test['raw'])
    rows = [{**p.info, **run.test_summary(p, test[p.info['inputs']])}
            for p in picked]
    t, c = fe.output_shape(raw.input_shape[0])
    return run.finish(
        {'rows': rows, 'feature_shape': [t, c]},
        render=render_markdown, figures={'results.png': plot},
        console=lambda s: results_table(s['rows']) + '\n\n' + verdict(
            s['rows']))


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


def verdict(rows) -> str:
  said = []
  by = {(r['classifier'], r['inputs']): r for r in rows
        if r['status'] == 'done'}
  for classifier in ('linear', 'shallow', 'deep'):
    if (classifier, 'raw') in by and (classifier, 'features') in by:
      a, b = by[(classifier, 'raw')], by[(classifier, 'features')]
      said.append(
          f'{classifier}: raw {100 * a["test_error_mean"]:.1f}% vs features '
          f'{100 * b["test_error_mean"]:.1f}% test error.')
  learned = _best(rows, inputs=('raw',), classifier=('deep', 'cnn'))
  crafted = _best(rows, inputs=('features',))
  if learned and crafted:
    gap = learned['test_error_mean'] - crafted['test_error_mean']
    spread = max(learned['test_error_std'], crafted['test_error_std'])
    if gap < -spread:
      word = 'beats'
    elif gap <= spread:
      word = 'ties with'
    else:
      word = 'loses to'
    said.append(
        f'Picked on validation, the best end to end ({learned["classifier"]} '
        f'on raw, {100 * learned["test_error_mean"]:.1f}% test error) {word} '
        f'the best on the hand-crafted features ({crafted["classifier"]}, '
        f'{100 * crafted["test_error_mean"]:.1f}%): a difference of '
        f'{100 * abs(gap):.1f} points against a seed spread of '
        f'{100 * spread:.1f}. The lecture\'s claim (learning the '
        'pipeline ties with or beats the hand-crafted one): '
        + ('supported.' if word != 'loses to' else 'not supported here.'))
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
      'picked on validation.', '', results_table(summary['rows']), '',
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
