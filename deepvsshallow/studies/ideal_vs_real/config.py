"""Ideal vs real on MNIST-1D: deep and shallow MLP families across parameter
counts, each trained on the real training set and on a 50x larger
generated one, and tested on the same real test set (the lecture's
"鱼与熊掌": the gap between ideal and real against the size of the
function set; depth reaching a low loss with fewer parameters).

Command:
  python experiments/ideal_vs_real.py --workdir=runs/ideal_vs_real
  ...ideal_vs_real.py --config=:runlocal   a smoke run in seconds (CI uses it)

Runtime: 7 min 31 s on a 2-core CPU in the lecture run of 2026-12-03
(451 s from nothing, one CPU device per core, beside another study; 107 s
of it compiling), generating and reading the 250,000-sample ideal set
included (it is then cached in TFDS_DATA_DIR).

Expected result (measured 2026-12-02 with 3 seeds, README.md): the real -
ideal test-loss gap grows in the means at every step for the shallow
family (0.36 to 3.78) and up to 11.6k parameters for the deep one (0.41 to
2.81, then 2.61); the intervals support growth only at the shallow
family's first two steps, so "it grows at every step" is inconclusive for
both. With ideal data the shallow net has the lower loss at 1.4k, 3.7k and
39.6k parameters (contradicted), and the 11.6k pair is inconclusive.
"""

from deepvsshallow import config as config_lib
from deepvsshallow import fields
from deepvsshallow.fields import Field


FIELDS = config_lib.schema(config_lib.one_dataset('mnist1d'), {
    'deep_depth': Field(3, 'Hidden layers of the deep family.',
                        fields.integer(2)),
    'deep_widths': Field((16, 32, 64, 128), 'Deep widths; each gets a '
                         'parameter-matched one-hidden-layer net.',
                         fields.integers(1)),
    'ideal_factor': Field(50, "The ideal set has this many times the real "
                          "set's samples.", fields.integer(2)),
    'ideal_seed': Field(1, "The ideal set's generator seed (not the real "
                        "one's: no test example in it).", fields.integer(0)),
    'select_on': Field('loss', 'The validation metric that early stopping '
                       'and the pick minimise: loss (the figure is about '
                       'loss) or error.', fields.one_of('loss', 'error')),
}, checks=(config_lib.generated,
           config_lib.new_generator_seed('ideal_seed')))


def get_config(arg: str = ''):
  runlocal = config_lib.runlocal_only(arg)
  # num_epochs (the cap) and patience count passes over the real set
  # (53 steps each); the ideal set gets as many steps (train.in_passes_over).
  c = FIELDS.config(learning_rates=(3e-3, 1e-2), num_seeds=3, batch_size=64,
                    num_epochs=6000, patience=30,
                    schedule='constant')
  if runlocal:
    c.generator.num_samples = 1000
    c.ideal_factor = 5
    c.deep_widths = (8,)
    c.num_epochs = 2
    c.patience = 1
    c.num_seeds = 1
    c.learning_rates = (1e-2,)
  return c
