"""Do deeper layers pull look-alike classes apart? A deep MLP and its
parameter-matched one-hidden-layer net, probed layer by layer on one pair of
classes (the lecture's MNIST 4 vs 9; Mohamed, Hinton & Penn 2012).

Command (default: MNIST-1D, offline; the pair is the one the deep net
confuses most on validation):
  python experiments/separation.py --workdir=runs/separation
  ...separation.py:digits       scikit-learn's 8x8 digits, 4 vs 9 (offline)
  ...separation.py:mnist        MNIST through TFDS, 4 vs 9, wider nets
  ...separation.py:runlocal     a smoke run in seconds (CI uses it)
  --config.pair="(3, 5)"        any other pair

Runtime on a 2-core CPU: about 1 minute for the MNIST-1D default (training
two nets x 9 candidates, then 7 probes x 3 seeds and 7 t-SNEs); `:digits`
20 s; `:mnist` (not run here: no download) much longer.

Expected result (measured 2026-11-22, README.md): on MNIST-1D the deep
4x128 net confuses 1 and 4 most; their linear-probe test accuracy rises at
every layer (53% at the input, then 59, 67, 67, 68%) and so does the Fisher
ratio (0.006 to 0.055); the matched 1x1099 net reaches the same 68% probe
accuracy with a flat Fisher ratio. On digits, 4 vs 9 is already 98.6%
separable at the input, and only the Fisher ratio rises (0.44 to 1.50).
"""

from deepvsshallow import config as config_lib

# dataset: (deep hidden widths, batch size, epochs, learning rates, pair)
_DATASET_DEFAULTS = {
    'mnist1d': ((128,) * 4, 64, 60, (1e-3, 3e-3, 1e-2), ()),
    'digits': ((128,) * 4, 64, 60, (3e-4, 1e-3, 3e-3), (4, 9)),
    'mnist': ((1024,) * 4, 128, 20, (3e-4, 1e-3, 3e-3), (4, 9)),
}


def get_config(arg: str = ''):
  dataset, runlocal = config_lib.parse_arg(arg, _DATASET_DEFAULTS)
  hidden, batch_size, num_epochs, lrs, pair = _DATASET_DEFAULTS[dataset]
  # The shared fields and what each does: deepvsshallow/config.py.
  c = config_lib.common(dataset, learning_rates=lrs, num_seeds=3,
                        batch_size=batch_size, num_epochs=num_epochs)
  c.deep_hidden = hidden         # The deep net's hidden widths; the shallow net matches its parameter count.
  c.activation = 'relu'          # relu | sigmoid | hard_sigmoid
  c.pair = pair                  # Two class labels; () = the deep net's most-confused pair on validation.
  c.probe_l2 = 1.0               # The probe's inverse L2 strength (scikit-learn's C), the same for every layer.
  c.projections = ('pca', 'tsne')  # Pictures of each layer (seed 0); () for none.
  c.projection_points = 400      # Test examples of the pair in each picture (at most).
  if runlocal:
    c.deep_hidden = (16, 16)
    c.num_epochs = 2
    c.num_seeds = 2
    c.learning_rates = (3e-3,)
    c.projections = ('pca',)
    c.projection_points = 50
    if dataset.startswith('mnist1d'):
      c.generator.num_samples = 1000
  return c
