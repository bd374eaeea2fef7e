"""Spatial transformers on distorted digits: FCN, CNN, ST-FCN, ST-CNN.

Jaderberg et al. 2015, Table 1 (left), at about equal parameter counts, on
rotated (R) and rotated-translated-scaled (RTS) digits, plus the lecture's
sampling point: nearest-pixel sampling gives the localisation net no
gradient; bilinear sampling does.

Command (default: scikit-learn's bundled 8x8 digits, padded to 12x12, offline):
  python experiments/stn.py --workdir=runs/stn

Other arguments after the file name, comma-separated:
  ...stn.py:runlocal        a smoke run in seconds (CI uses it)
  ...stn.py:mnist           MNIST through TFDS (28x28, RTS canvas 42x42)

Runtime: 8-12 minutes for the default on a 2-core CPU (the CNNs
dominate: XLA's CPU convolutions are slow at 16-32 channels); `:mnist` takes
hours there and minutes on one GPU.

Expected result (default, measured 2026-11-22, README.md): on RTS the
transformer roughly halves its plain counterpart's test error (ST-FCN 39% vs
FCN 74%; ST-CNN 18% vs CNN 40%) by zooming in on and re-centring the digit;
on R the gain is within the seeds' spread (ST-CNN 10.0% vs CNN 11.0%), and
the rectification picture shows the transformers mostly rescaling rather
than un-rotating. The nearest-sampling ST-FCN's localisation net gets a
gradient of exactly 0 and stays at the identity (74% error, like the FCN).
"""

from deepvsshallow import config as config_lib

_DATASETS = {
    # dataset: (margin, cnn_channels, loc_hidden, batch_size, num_epochs)
    'digits': (2, (16, 32), 32, 64, 40),
    'mnist': (0, (32, 64), 64, 128, 30),
    'fashion_mnist': (0, (32, 64), 64, 128, 30),
    'kmnist': (0, (32, 64), 64, 128, 30),
}


def get_config(arg: str = ''):
  dataset, runlocal = config_lib.parse_arg(arg, _DATASETS)
  margin, channels, loc_hidden, batch_size, num_epochs = _DATASETS[dataset]
  # The shared fields (data, candidates, optimisation, execution) and what
  # each one does: deepvsshallow/config.py.
  c = config_lib.common(dataset, learning_rates=(1e-3, 3e-3), num_seeds=3,
                        batch_size=batch_size, num_epochs=num_epochs)
  c.margin = margin              # Pixels of zero padding before distorting (MNIST has its own).
  c.distortions = ('R', 'RTS')
  c.distortion_seed = 0
  c.models = ('FCN', 'CNN', 'ST-FCN', 'ST-CNN')
  c.nearest_demo = True          # Also train an ST-FCN with nearest sampling (on RTS).
  c.cnn_channels = channels      # The CNN's size sets every model's parameter budget.
  c.localisation = 'mlp'         # mlp | cnn
  c.loc_hidden = loc_hidden      # Hidden units of the localisation net.
  c.loc_channels = (8, 8)        # localisation=cnn only: its two conv layers.
  if runlocal:  # Every model and the sampling demo, on RTS only.
    c.distortions = ('RTS',)
    c.num_seeds = 2
    c.learning_rates = (3e-3,)
    c.num_epochs = 2
  return c
