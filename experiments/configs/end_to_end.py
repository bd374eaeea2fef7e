"""End to end vs a hand-crafted front end: logistic regression, a shallow
and a deep MLP (and a 1-D CNN on raw signals) trained on the raw signal and
on MFCC-style features (the lecture's DFT -> filter bank -> log -> DCT
pipeline, written in jnp: deepvsshallow/frontend.py).

Command (default: MNIST-1D, offline):
  python experiments/end_to_end.py --workdir=runs/end_to_end
  ...end_to_end.py:spoken_digit  the Free Spoken Digit Dataset through TFDS
                                 (8 kHz, 1 s; a mel filter bank)
  ...end_to_end.py:runlocal      a smoke run in seconds (CI uses it)

Runtime on a 2-core CPU: about 2.5 minutes for the MNIST-1D default (the
CNN, run member by member on CPU, takes most of it); `:spoken_digit` (not
run here: FSDD downloads from GitHub) longer.

Expected result (measured 2026-11-22, README.md): test error on raw signals
69% logistic, 37% shallow, 32% deep MLP, 8% CNN; on the MFCC-style
features 72%, 61%, 63%. End to end wins by far on MNIST-1D, whose classes
are shapes at positions, not spectra; speech is the fair test.
"""

import ml_collections

from deepvsshallow import config as config_lib

# dataset: (front end, deep hidden, cnn channels, epochs, learning rates)
_DATASET_DEFAULTS = {
    # MNIST-1D (length 40, no sample rate): 7 frames x 6 coefficients.
    'mnist1d': (dict(frame_length=16, hop=4, num_filters=8, num_coeffs=6,
                     sample_rate=0, low_hz=0.0, high_hz=0.0),
                (128, 128, 128), (25, 25, 25), 60, (1e-3, 3e-3, 1e-2)),
    # Speech at 8 kHz, 1 s: 61 frames of 32 ms every 16 ms x 13 MFCCs.
    'spoken_digit': (dict(frame_length=256, hop=128, num_filters=26,
                          num_coeffs=13, sample_rate=8000, low_hz=0.0,
                          high_hz=0.0),
                     (256, 256, 256), (32, 32, 32, 32, 32), 40,
                     (3e-4, 1e-3, 3e-3)),
}


def get_config(arg: str = ''):
  dataset, runlocal = config_lib.parse_arg(arg, _DATASET_DEFAULTS)
  fe, deep, channels, num_epochs, lrs = _DATASET_DEFAULTS[dataset]
  # The shared fields and what each does: deepvsshallow/config.py.
  c = config_lib.common(dataset, learning_rates=lrs, num_seeds=3,
                        batch_size=64, num_epochs=num_epochs)
  # The front end (deepvsshallow/frontend.py): frames of frame_length
  # samples every hop, num_filters triangular filters (sample_rate 0: linear
  # in frequency; else mel between low_hz and high_hz, 0 = Nyquist), log,
  # DCT-II keeping num_coeffs.
  c.frontend = ml_collections.ConfigDict(fe)
  c.inputs = ('raw', 'features')   # What the classifiers see.
  c.classifiers = ('linear', 'shallow', 'deep', 'cnn')  # cnn: raw input only.
  c.deep_hidden = deep             # The deep MLP; the shallow one matches its count on the same input.
  c.cnn_channels = channels        # The 1-D CNN's channels (kernel 5 then 3s, stride 2 each).
  if runlocal:
    c.num_epochs = 2
    c.num_seeds = 2
    c.learning_rates = (3e-3,)
    c.deep_hidden = (16, 16)
    c.cnn_channels = (4, 4)
    c.classifiers = ('deep',)   # Raw vs features in two small programs.
    if dataset == 'mnist1d':
      c.generator.num_samples = 1000
  return c
