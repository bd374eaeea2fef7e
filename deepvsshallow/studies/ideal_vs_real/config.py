"""Ideal vs real on MNIST-1D: deep and shallow MLP families across parameter
counts, each trained on the real training set and on a 50x larger
generated one, and tested on the same real test set (the lecture's
"鱼与熊掌": the gap between ideal and real against the size of the
function set; depth reaching a low loss with fewer parameters).

Command:
  python experiments/ideal_vs_real.py --workdir=runs/ideal_vs_real
  ...ideal_vs_real.py --config=:runlocal   a smoke run in seconds (CI uses it)

Runtime: 20 min 19 s (1,219 s) on a 2-core CPU on 2026-12-03, 39 s of it
compiling, alone for 12 minutes and then beside the data-size sweep;
generating the 250,000-sample ideal set and reading it back take about a
minute the first time (almost 5 minutes beside another study before
2026-12-04: 2 to generate it one sample at a time, 2.5 to read it back one
record at a time); it is cached in TFDS_DATA_DIR. Training to convergence made it 2-3 times
longer than the equal-steps version.

Expected result (measured 2026-12-03 with 3 seeds, README.md): the real -
ideal test-loss gap grows over the first two steps in both families
(supported at each) and not at the last (inconclusive), so "it grows at
every step" is inconclusive for both; with ideal data the deep net has the
lower loss at 3.7k and 11.6k parameters (supported) and ties at 1.4k and
39.6k (inconclusive).
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
  c = FIELDS.config(**config_lib.TO_CONVERGENCE)
  if runlocal:
    c.generator.num_samples = 1000
    c.ideal_factor = 5
    c.deep_widths = (8,)
    c.num_epochs = 2
    c.patience = 1
    c.num_seeds = 1
    c.learning_rates = (1e-2,)
  return c
