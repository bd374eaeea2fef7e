"""The why-deep lab, part 1: expressivity by construction, and what training
actually finds.

Hand-built networks for the lecture's claims (hard sigmoid = 2 ReLUs,
one-hidden-layer interpolants, the k-fold tent map with 2^k pieces,
Yarotsky's x^2, parity by an XNOR tree and by the bit count), an exact piece
counter, linear regions at initialisation, and deep vs shallow nets at
matched parameter counts trained from random initialisation on the same
functions. All data is generated: no network, no dataset.

Command:
  python experiments/expressivity.py --workdir=runs/expressivity
  ...expressivity.py --config=:runlocal   a smoke run in seconds (CI uses it)

Runtime: 2 min 42 s on a 2-core CPU in the lecture run of 2026-12-03
(162 s, one CPU device per core, beside another study), 99 s of it
compiling the training programs, before the exact region counts and
section 7; with them, 5 min 19 s (319 s, 170 s compiling) in the lecture
run of 2026-12-03 at 04:22, and 144 s alone on a warm compilation cache.

Expected result (measured 2026-12-02, README.md): every construction
matches its closed form exactly (2^k pieces, error 2^(-2m-2), parity right
on all 2^n inputs); trained nets do not find the constructions: on x^2 the
shallow net is better (contradicted), on the tent maps k = 4-6 neither net
beats a constant, and on parity the deep net is ahead only at n = 10.
Linear regions at initialisation (measured 2026-12-03; weights He normal,
biases drawn as Hanin & Rolnick 2019 did, counted exactly): the 4-layer net
has no more regions than the 1-layer net of the same neurons (16 neurons:
x0.51, fewer; 32 and 64: not told apart); counts grow about as the neurons
squared. Section 7 (centred inputs, PyTorch's initialisation, widths 2, 4
and 8, 10 seeds): no seed finds a near-exact tent map or x². See README.md
for the measured tables.
"""

import numpy as np

from deepvsshallow import config as config_lib
from deepvsshallow import data, fields, lab
from deepvsshallow.fields import Field

# Section 1's targets and grid (the experiment measures, the report plots).
# Points of the float64 grid on which sup errors of the interpolants are
# measured (dyadic, so every dyadic knot and midpoint up to 2^-16 is on it).
SUP_GRID = 2 ** 16 + 1
TARGETS = {
    # name: (function, its max |f''| on [0, 1] for the h^2/8 bound)
    'x^2': (lambda x: x ** 2, 2.0),
    'sin(2 pi x)': (lambda x: np.sin(2 * np.pi * x), (2 * np.pi) ** 2),
}


def _depths_divide(config) -> list[str]:
  """Every region neuron count splits into equal layers at every depth."""
  return [f'config.region_neurons has {n}, which {d} layers cannot share '
          'equally; use multiples of every depth in config.region_depths.'
          for n in config.region_neurons for d in config.region_depths
          if n % d]


def _batch_fits(config) -> list[str]:
  """The smallest training set (regression points, or half of 2^n bit
  strings less validation) must hold a batch."""
  sizes = [config.regression_train_size] + [
      2 ** n // 2 for n in config.train_parity_n]
  smallest = min(s - data.num_validation(s, config.val_fraction)
                 for s in sizes)
  if config.batch_size > smallest:
    return [f'config.batch_size={config.batch_size} is larger than the '
            f'smallest training set ({smallest} examples); lower it.']
  return []


FIELDS = config_lib.schema(None, {
    # Sections 1-4: the constructions and their tables.
    'interp_pieces': Field((1, 2, 4, 8, 16, 32, 64, 128),
                           'Equal pieces of the interpolants of x^2 and '
                           'sin(2 pi x).', fields.integers(1)),
    'sawtooth_max_k': Field(10, 'Tent map table: k = 1..sawtooth_max_k.',
                            fields.integer(1, lab.MAX_SAWTOOTH_DEPTH)),
    'square_max_m': Field(10, 'Yarotsky table: m = 1..square_max_m.',
                          fields.integer(1, lab.MAX_SQUARE_DEPTH)),
    'parity_max_n': Field(16, 'Parity table: n = 2..parity_max_n, each '
                          'checked on all 2^n inputs.',
                          fields.integer(2, lab.MAX_PARITY_BITS)),
    # Section 5: linear regions on [-1, 1]^2 at initialisation, counted
    # exactly as Hanin & Rolnick 2019 did: weights He normal, biases drawn.
    'region_neurons': Field((16, 32, 64), 'Hidden neurons in all; each '
                            'depth splits them into equal layers.',
                            fields.integers(1)),
    'region_depths': Field((1, 2, 4), 'Depths compared at each neuron '
                           'count (the shallowest is the baseline).',
                           fields.integers(1)),
    'region_bias_stds': Field(
        (0.0, 1e-3), 'Std of the biases drawn at initialisation (Hanin & '
        "Rolnick's 1e-3; 0: every bias zero, the cones artefact).",
        fields.positive_numbers(or_zero=True)),
    'region_seeds': Field(10, 'Initialisations (replicates).',
                          fields.integer(2)),
    # Section 6: what training finds. Deep nets have the construction's
    # architecture; each is paired with a one-hidden-layer net of the
    # nearest parameter count.
    'train_tent_k': Field((3, 4, 5, 6), 'Tent maps T^k to fit.',
                          fields.integers(1, lab.MAX_SAWTOOTH_DEPTH,
                                          allow_empty=True)),
    'tent_widths': Field((2,), "Widths of the deep nets for T^k (2: the "
                         "construction's).", fields.integers(1)),
    'train_square_m': Field(4, "x^2 with the architecture of Yarotsky's f_m.",
                            fields.integer(1, lab.MAX_SQUARE_DEPTH)),
    'train_parity_n': Field((8, 9, 10, 11, 12), 'Parity of n bits: train on '
                            'a random half of the inputs, test on the rest '
                            '(every input is enumerated).',
                            fields.integers(2, lab.MAX_PARITY_BITS,
                                            allow_empty=True)),
    # Section 7: the 1-D problems again without section 6's confound
    # (inputs in [0, 1] and zero biases leave a narrow unit dead on the
    # whole domain): inputs centred to [-1, 1], PyTorch's initialisation
    # (biases drawn), several widths, more seeds.
    'retry_widths': Field((2, 4, 8), 'Widths of the deep nets retried, at '
                          "each construction's depth; () skips section 7.",
                          fields.integers(1, allow_empty=True)),
    'retry_seeds': Field(10, 'Seeds (replicates) per rate in section 7.',
                         fields.integer(2)),
    'near_exact_tent': Field(0.05, 'A tent fit is near-exact with the '
                             "target's 2^k pieces and a test max error "
                             'below this.', fields.number(0, low_open=True)),
    'near_exact_square': Field(2.0, 'An x^2 fit is near-exact with a test '
                               "max error below this multiple of the "
                               "construction's.",
                               fields.number(1)),
    'regression_train_size': Field(1024, 'Uniform points on [0, 1] '
                                   '(validation is carved from them).',
                                   fields.integer(2)),
    'regression_test_size': Field(4097, 'Evenly spaced test points on '
                                  '[0, 1].', fields.integer(2)),
    'data_seed': Field(0, 'Which points and which half of the bit strings. '
                       'Fixed, not tuned.', fields.integer(0)),
}, checks=(_batch_fits, _depths_divide))


def get_config(arg: str = ''):
  # No dataset argument: the data is generated.
  runlocal = config_lib.runlocal_only(arg)
  # 8 seeds and a grid one step up: with 3 seeds the parity intervals were
  # +-20 to +-40 points, and x^2's deep pick sat on the top of the grid
  # after two extensions from (1e-3, 3e-3, 1e-2) (BUILD_NOTES.md).
  c = FIELDS.config(learning_rates=(3e-3, 1e-2, 3e-2), num_seeds=8,
                    batch_size=32, num_epochs=300)
  if runlocal:
    c.interp_pieces = (1, 4, 16)
    c.sawtooth_max_k = 6
    c.square_max_m = 4
    c.parity_max_n = 8
    c.region_neurons = (8, 16)
    c.region_depths = (1, 2)
    c.region_seeds = 2
    c.train_tent_k = (3,)
    c.train_square_m = 2
    c.train_parity_n = (8,)
    c.retry_widths = (2,)
    c.retry_seeds = 2
    c.regression_train_size = 256
    c.learning_rates = (1e-2,)
    c.num_seeds = 2
    c.num_epochs = 5
  return c
