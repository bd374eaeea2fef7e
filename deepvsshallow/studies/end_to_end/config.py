"""End to end vs a hand-crafted front end: logistic regression, a shallow
and a deep MLP, and a 1-D CNN, trained on the raw signal and on MFCC-style
features (the lecture's DFT -> filter bank -> log -> DCT pipeline, written
in jnp: deepvsshallow/frontend.py), at matched parameter counts.

Command (default: speech-like syllables, generated offline by a
source-filter model, deepvsshallow/syllables.py, where MFCCs are the right
features):
  python experiments/end_to_end.py --workdir=runs/end_to_end
  ...end_to_end.py --config=:mnist1d       the contrast: MNIST-1D, whose
                                 classes are shapes at positions, not spectra
  ...end_to_end.py --config=:spoken_digit  the Free Spoken Digit Dataset
                                 through TFDS (8 kHz, 1 s; a mel filter bank)
  ...end_to_end.py --config=:runlocal      a smoke run in seconds (CI uses it)

Runtime on a 2-core CPU, 2026-12-03: 10 min 30 s (630 s) in the lecture
run from nothing (beside another study); 10 min 48 s (648 s, 116 s of it
compiling) for the default beside two other runs (the raw CNN's
populations, with its grid extensions, 3 min 17 s of it); `:mnist1d` 3 min 20 s (194 s) beside one other run;
`:spoken_digit` not run here (FSDD downloads from GitHub).

Expected result (measured 2026-12-03, README.md), test error on the
syllables: raw 83% logistic, 65% shallow, 64% deep MLP, 7.2% CNN; on the
features 7.2%, 4.4%, 4.0%, 3.2%. The features win for every classifier
(contradicted); the best end to end, the raw CNN, loses to the best on the
features, the CNN over the feature frames, by 3.9 [2.0, 5.9] points (a
single raw CNN design, not searched). On
`:mnist1d` the raw signal wins for every classifier (CNN 7.9% against
48.0% on the features).
"""

from __future__ import annotations

from deepvsshallow import config as config_lib
from deepvsshallow import data, fields, frontend
from deepvsshallow.errors import UsageError
from deepvsshallow.fields import Field

CLASSIFIERS = ('linear', 'shallow', 'deep', 'cnn')
INPUTS = ('raw', 'features')


def _defaults(frontend, deep_hidden, cnn_channels, cnn_kernels, cnn_strides,
              num_epochs, learning_rates) -> dict:
  return dict(frontend=frontend, deep_hidden=deep_hidden,
              cnn_channels=cnn_channels, cnn_kernels=cnn_kernels,
              cnn_strides=cnn_strides, num_epochs=num_epochs,
              learning_rates=learning_rates)


# Each dataset's settings; the first is the default.
_DATASET_DEFAULTS = {
    # Speech-like vowels at 8 kHz, 200 ms: 11 frames of 32 ms every 16 ms x
    # 13 MFCCs from 26 mel filters. The raw CNN's first layer (64 samples,
    # 8 ms, every 1 ms: a learnable filter bank that can resolve formants
    # 125 Hz apart), then three kernel-3 stride-2 layers.
    'syllables': _defaults(
        dict(frame_length=256, hop=128, num_filters=26, num_coeffs=13,
             sample_rate=8000, low_hz=0.0, high_hz=0.0),
        (256, 256, 256), (16, 32, 32, 32), (64, 3, 3, 3), (8, 2, 2, 2), 30,
        (3e-4, 1e-3, 3e-3)),
    # MNIST-1D (length 40, no sample rate): 7 frames x 6 coefficients.
    # The CNN is Greydanus 2020's.
    'mnist1d': _defaults(
        dict(frame_length=16, hop=4, num_filters=8, num_coeffs=6,
             sample_rate=0, low_hz=0.0, high_hz=0.0),
        (128, 128, 128), (25, 25, 25), (5, 3, 3), (2, 2, 2), 60,
        (1e-3, 3e-3, 1e-2)),
    # Speech at 8 kHz, 1 s: 61 frames of 32 ms every 16 ms x 13 MFCCs.
    'spoken_digit': _defaults(
        dict(frame_length=256, hop=128, num_filters=26, num_coeffs=13,
             sample_rate=8000, low_hz=0.0, high_hz=0.0),
        (256, 256, 256), (16, 32, 32, 32), (64, 3, 3, 3), (8, 2, 2, 2), 40,
        (3e-4, 1e-3, 3e-3)),
}


def front_end(settings) -> frontend.FrontEnd:
  """The front end of config.frontend (sample_rate 0: a linear bank;
  high_hz 0: Nyquist). Bad settings raise a one-line UsageError."""
  f = settings
  return frontend.FrontEnd(
      frame_length=f['frame_length'], hop=f['hop'],
      num_filters=f['num_filters'], num_coeffs=f['num_coeffs'],
      sample_rate=f['sample_rate'] or None, low_hz=f['low_hz'],
      high_hz=f['high_hz'] or None)


def _front_end_settings(value) -> str | None:
  try:
    front_end(value)
  except UsageError as e:
    return f'settings the front end accepts ({e})'
  return None


def _one_dimensional(config) -> list[str]:
  """The dataset holds 1-D signals, each long enough for one frame."""
  spec = data.DATASETS[config.dataset]
  if tuple(spec.input_shape[1:]) != (1, 1):
    return [f'config.dataset={config.dataset!r} is not a 1-D signal dataset '
            '(inputs (L, 1, 1)); use one of '
            f'{", ".join(_DATASET_DEFAULTS)}.']
  return [f'config.frontend: {line}' for line in
          front_end(config.frontend).problems(spec.input_shape[0])]


def _cnn_layers_agree(config) -> list[str]:
  """The raw CNN's channels, kernels and strides describe the same layers."""
  n = len(config.cnn_channels)
  if len(config.cnn_kernels) != n or len(config.cnn_strides) != n:
    return [f'config.cnn_kernels ({len(config.cnn_kernels)}) and '
            f'config.cnn_strides ({len(config.cnn_strides)}) must have one '
            f'entry per layer of config.cnn_channels ({n}).']
  return []


_DEFAULT_DATASET = next(iter(_DATASET_DEFAULTS))
_DEFAULT = _DATASET_DEFAULTS[_DEFAULT_DATASET]

FIELDS = config_lib.schema(
    config_lib.one_dataset(_DEFAULT_DATASET), {
        # The front end (deepvsshallow/frontend.py): frames of frame_length
        # samples every hop, num_filters triangular filters, log, DCT-II
        # keeping num_coeffs.
        'frontend': Field(
            _DEFAULT['frontend'],
            'The MFCC front end: frame_length, hop, num_filters, num_coeffs, '
            'sample_rate (0: a linear bank; else mel between low_hz and '
            'high_hz, 0 = Nyquist).', _front_end_settings),
        'inputs': Field(INPUTS, 'What the classifiers see.',
                        fields.subset_of(*INPUTS)),
        'classifiers': Field(CLASSIFIERS, 'Classifiers (cnn: a 1-D CNN '
                             'over samples on raw input, over frames on the '
                             'features).', fields.subset_of(*CLASSIFIERS)),
        'deep_hidden': Field(_DEFAULT['deep_hidden'], 'The deep MLP; the shallow one '
                             'matches its count on the same input.',
                             fields.integers(1)),
        'cnn_channels': Field(_DEFAULT['cnn_channels'], "The raw 1-D CNN's channels per "
                              'layer.', fields.integers(1)),
        'cnn_kernels': Field(_DEFAULT['cnn_kernels'], "The raw CNN's kernel sizes.",
                             fields.integers(1)),
        'cnn_strides': Field(_DEFAULT['cnn_strides'], "The raw CNN's strides.",
                             fields.integers(1)),
        'feature_cnn_kernels': Field(
            (3, 3, 3), 'The CNN on the features: kernel sizes over frames '
            '(stride 1, the coefficients as channels); its channels, one '
            "width for all layers, match the raw CNN's parameter count.",
            fields.integers(1)),
    }, checks=(_one_dimensional, _cnn_layers_agree))


def get_config(arg: str = ''):
  dataset, runlocal = config_lib.parse_arg(arg, _DATASET_DEFAULTS)
  c = FIELDS.config(dataset=dataset, num_seeds=3, batch_size=64,
                    **_DATASET_DEFAULTS[dataset])
  if runlocal:
    c.num_epochs = 2
    c.num_seeds = 2
    c.learning_rates = (3e-3,)
    c.deep_hidden = (16, 16)
    c.cnn_channels = (4,) * len(c.cnn_channels)
    c.classifiers = ('deep',)   # Raw vs features in two small programs.
    if dataset in ('mnist1d', 'syllables'):
      c.generator.num_samples = 1000
  return c
