"""End-to-end learning against a hand-crafted front end (the lecture's speech
pipeline: DFT -> filter bank -> log -> DCT -> MFCC -> a classifier).

The same classifiers are trained on two inputs:

  raw       the signal as the dataset stores it;
  features  the MFCC-style front end of `deepvsshallow.frontend` (frames,
            Hann window, DFT power, triangular filter bank, log, DCT-II),
            then standardised per coefficient with the training split's mean
            and spread (cepstral mean and variance normalisation, the
            pipeline's usual last step).

Classifiers, at matched parameter counts (`model_fns`): `linear`
(logistic regression), `shallow` (one hidden layer), `deep` (an MLP of
`deep_hidden` on raw signals, its parameter count's width on the
features), and `cnn` (a 1-D CNN: over samples on raw signals, the
end-to-end learner with weight sharing; over frames on the features, with
the coefficients as channels and the raw CNN's count). Every candidate is
picked on validation and tested once. The lecture claims that learning the
whole pipeline ties with or beats the hand-crafted front end; the report
says whether it did.

`run(run)` writes trials.jsonl, results.json, results.md and results.png
(`report.py`).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from deepvsshallow import data as data_lib
from deepvsshallow import frontend, models, params, runner
from deepvsshallow.studies.end_to_end import report
from deepvsshallow.studies.end_to_end.config import front_end


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


def _raw_cnn(config, length: int, k: int):
  channels = tuple(config.cnn_channels)
  return functools.partial(
      models.CNN1D, length, k, channels=channels,
      kernels=tuple(config.cnn_kernels), strides=tuple(config.cnn_strides))


def model_fns(config, ds: data_lib.Dataset, inputs: str, raw_length: int):
  """{classifier: (model_fn, description)} for one input, at matched
  parameter counts: on raw signals of `raw_length` samples the deep MLP is
  `deep_hidden`; on the features its layers take the one width that fits
  the raw deep MLP's count (rounding down), so the two see the same budget;
  the shallow MLP matches the deep one on the same input; the CNN on the
  features (over frames, the coefficients as channels) matches the raw
  CNN's count. Logistic regression is the input's own size."""
  d, k = ds.input_dim, ds.num_classes
  deep = tuple(config.deep_hidden)
  if inputs != 'raw':
    budget = params.mlp_param_count(raw_length, deep, k)
    deep = (params.budget_width(d, len(deep), k, budget).width,) * len(deep)
  shallow = params.shallow_match(d, deep, k).width
  out = {
      'linear': (functools.partial(models.Linear, d, k), 'logistic'),
      'shallow': (functools.partial(models.MLP, d, (shallow,), k),
                  f'MLP {shallow}'),
      'deep': (functools.partial(models.MLP, d, deep, k),
               f'MLP {"x".join(map(str, deep))}'),
  }
  if inputs == 'raw':
    out['cnn'] = (_raw_cnn(config, d, k), 'CNN {} k{} s{}'.format(
        '-'.join(map(str, config.cnn_channels)),
        '-'.join(map(str, config.cnn_kernels)),
        '-'.join(map(str, config.cnn_strides))))
  else:
    frames, coeffs = ds.input_shape[:2]
    kernels = tuple(config.feature_cnn_kernels)
    strides = (1,) * len(kernels)
    budget = params.model_param_count(_raw_cnn(config, raw_length, k))
    width = params.cnn1d_width_for_budget(frames, kernels, strides, k, budget,
                                          input_channels=coeffs)
    out['cnn'] = (functools.partial(
        models.CNN1D, frames, k, channels=(width,) * len(kernels),
        kernels=kernels, strides=strides, input_channels=coeffs),
                  'CNN {} over frames k{}'.format(
                      '-'.join([str(width)] * len(kernels)),
                      '-'.join(map(str, kernels))))
  return {c: out[c] for c in config.classifiers if c in out}


def run(run: runner.Run) -> dict:
  config = run.config
  raw = run.load_dataset()
  fe = front_end(config.frontend)
  datasets, features = {'raw': raw}, None
  if 'features' in config.inputs:
    run.log('Computing the front end\'s features (train statistics for '
            'the standardisation)...')
    features = Features(fe, raw.input_convention, raw.train.inputs)
    datasets['features'] = feature_dataset(raw, features)
  populations = []
  for inputs in config.inputs:
    ds = datasets[inputs]
    for classifier, (model_fn, desc) in model_fns(
        config, ds, inputs, raw.input_shape[0]).items():
      populations.append(runner.Population(
          f'{classifier} on {inputs} ({desc})', model_fn, ds,
          info={'classifier': classifier, 'inputs': inputs,
                'model': desc, 'input_dim': ds.input_dim}))
  picked = run.train_all(populations)
  test = {'raw': run.read_test(raw)}   # Read once; features made from it.
  if features is not None:
    test['features'] = features(test['raw'])
  rows = [report.Row(classifier=p.info['classifier'], inputs=p.info['inputs'],
                     model=p.info['model'], input_dim=p.info['input_dim'],
                     param_count=p.info['param_count'],
                     scores=run.scores(p, test[p.info['inputs']]))
          for p in picked]
  t, c = fe.output_shape(raw.input_shape[0])
  return run.finish(
      {'rows': rows, 'feature_shape': [t, c]},
      render=report.render_markdown, figures={'results.png': report.plot},
      console=report.console)
