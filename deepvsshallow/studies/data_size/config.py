"""Where depth pays: deep nets and their parameter-matched shallow nets on
generated MNIST-1D training sets of 1k to 256k examples, each trained to
convergence, tuned and repeated over seeds, all tested on one large
generated test set (the lecture's "deep nets overfit less"; Seide et al.
2011 had 309 hours of speech).

Command:
  python experiments/data_size.py --workdir=runs/data_size
  ...data_size.py --config=:runlocal   a smoke run in seconds (CI uses it)

Runtime: not part of the lecture's default. 32 min 19 s (1,939 s) on a
2-core CPU on 2026-12-03, 255 s of it compiling, the first 8 minutes
beside another study; generating the 376,470-sample pool the first time
adds about a minute (then cached in TFDS_DATA_DIR; generated one sample at
a time and read back one record at a time, before 2026-12-04, it added
several).

Expected result (measured 2026-12-03, 3 seeds, README.md "Where depth
pays"): the shallow net wins at small N (ahead in all 9 cells at 1k-4k,
supported at 7), the deep net wins only at the largest sizes (1.4k
parameters at 256k, 3.7k at 128k; 11.6k ties there); "depth's edge is
largest where data is scarce" is contradicted at every budget.
"""

from deepvsshallow import config as config_lib
from deepvsshallow import fields
from deepvsshallow.fields import Field


def _ascending(config) -> list[str]:
  sizes = list(config.train_sizes)
  if sizes != sorted(set(sizes)):
    return [f'config.train_sizes={tuple(sizes)} must be ascending without '
            'repeats: each size is a prefix of the next.']
  return []


def _data_fields() -> dict:
  """The dataset and its directory: the pool's generator arguments follow
  from the sizes and `pool_seed`, so there is no `generator` field."""
  out = config_lib.one_dataset('mnist1d')
  del out['generator']
  return out


FIELDS = config_lib.schema(_data_fields(), {
    'train_sizes': Field(tuple(1000 * 2 ** k for k in range(9)),
                         'Training-set sizes, ascending; each set is the '
                         'first N examples of one generated pool, so the '
                         'sets are nested.', fields.integers(1)),
    'validation_size': Field(4000, 'One validation set, the same at every '
                             'size (taken from the pool, after the largest '
                             'training set): the pick and early stopping '
                             'are equally reliable everywhere, and only the '
                             'training set varies.', fields.integer(100)),
    'pool_seed': Field(1, "The pool's generator seed (training, validation "
                       'and test sets all come from it).',
                       fields.integer(0)),
    'deep_depth': Field(3, 'Hidden layers of each deep net.',
                        fields.integer(2)),
    'deep_widths': Field((16, 32, 64), 'One deep net per width, each a '
                         'parameter budget with its matched '
                         'one-hidden-layer net.', fields.integers(1)),
}, checks=(config_lib.generated, _ascending))


def get_config(arg: str = ''):
  runlocal = config_lib.runlocal_only(arg)
  c = FIELDS.config(**config_lib.TO_CONVERGENCE)
  if runlocal:
    c.train_sizes = (200, 400)
    c.validation_size = 200
    c.deep_widths = (8,)
    c.num_epochs = 3
    c.patience = 1
    c.num_seeds = 2
    c.learning_rates = (1e-2,)
    c.grid_extensions = 0
  return c
