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
  ...expressivity.py:runlocal   a smoke run in seconds (CI uses it)

Runtime: about 3 minutes on a 2-core CPU (most of it compiling the 20
training programs; about half that with a warm compilation cache).

Expected result: every construction matches its closed form exactly (2^k
pieces, error 2^(-2m-2), parity right on all 2^n inputs); trained nets do
not find the constructions: see README.md for the measured tables and the
report's section 6 for what training found.
"""

from deepvsshallow import config as config_lib


def get_config(arg: str = ''):
  if arg not in ('', 'runlocal'):
    raise ValueError(f'config argument {arg!r}: expected nothing or runlocal '
                     '(the data is generated; there is no dataset to pick).')
  runlocal = arg == 'runlocal'
  # The shared fields (candidates, optimisation, execution) and what each
  # one does: deepvsshallow/config.py. No dataset: the data is generated.
  c = config_lib.common(None, learning_rates=(1e-3, 3e-3, 1e-2), num_seeds=3,
                        batch_size=32, num_epochs=300)
  # Sections 1-4: the constructions and their tables.
  c.interp_pieces = (1, 2, 4, 8, 16, 32, 64, 128)  # Equal pieces of the interpolants of x^2 and sin(2 pi x).
  c.sawtooth_max_k = 10        # Tent map table: k = 1..sawtooth_max_k.
  c.square_max_m = 10          # Yarotsky table: m = 1..square_max_m.
  c.parity_max_n = 16          # Parity table: n = 2..parity_max_n, each checked on all 2^n inputs.
  # Section 5: linear regions on [-1, 1]^2 at initialisation.
  c.region_deep = (16, 16, 16, 16)  # The deep net; the shallow one is matched to its parameter count.
  c.region_seeds = 5           # Initialisations (replicates).
  c.region_resolution = 512    # Grid points per side (the count is a lower bound).
  # Section 6: what training finds. Deep nets have the construction's
  # architecture; each is paired with a one-hidden-layer net of the nearest
  # parameter count.
  c.train_tent_k = (3, 4, 5, 6)      # Tent maps T^k to fit.
  c.tent_widths = (2,)               # Widths of the deep nets for T^k (2: the construction's).
  c.train_square_m = 4               # x^2 with the architecture of Yarotsky's f_m.
  c.train_parity_n = (8, 9, 10, 11, 12)  # Parity of n bits: train on a random half of the inputs, test on the rest.
  c.regression_train_size = 1024     # Uniform points on [0, 1] (validation is carved from them).
  c.regression_test_size = 4097      # Evenly spaced test points on [0, 1].
  c.data_seed = 0                    # Which points and which half of the bit strings. Fixed, not tuned.
  if runlocal:
    c.interp_pieces = (1, 4, 16)
    c.sawtooth_max_k = 6
    c.square_max_m = 4
    c.parity_max_n = 8
    c.region_seeds = 2
    c.region_resolution = 64
    c.train_tent_k = (3,)
    c.train_square_m = 2
    c.train_parity_n = (8,)
    c.regression_train_size = 256
    c.learning_rates = (1e-2,)
    c.num_seeds = 2
    c.num_epochs = 5
  return c
