"""Modularity: does a net with shared attribute features need less data for a
rare group? A flat 4-way MLP, the same trunk with two attribute heads, and 4
one-vs-rest MLPs, at matched parameter counts, for growing counts of the
rare group's training examples (the lecture's "boys with long hair").

Command (default: rendered 16x16 glyphs, offline; shape ring/plus x hair
short/long, plus-with-long-hair rare; deepvsshallow/attributes.py):
  python experiments/modularity.py --workdir=runs/modularity
  ...modularity.py:celeb_a     CelebA through TFDS, Male x Blond_Hair
                               (prepare it by hand: the one-line error says how)
  ...modularity.py:runlocal    a smoke run in seconds (CI uses it)

Runtime on a 2-core CPU: about 2 minutes for the default (most of it
compiling: each rare count is a new training-set size); `:celeb_a` (not run
here: it must be prepared by hand) about an hour there.

Expected result (measured 2026-11-22, README.md): rare-group test accuracy
with 3 rare examples: modular 74%, flat 23%, one-vs-rest 0%; with 10: 92,
86, 8%; from 30 on all approaches are at 85-100%. The modular net needs
10 rare examples to reach 90% on the rare group, the flat one 30 and the
one-vs-rest nets 100.
"""

from deepvsshallow import config as config_lib

# source: (attributes, hidden, train_per_group, rare_counts, test_per_group,
#          image_size, epochs, learning rates)
_SOURCES = {
    'rendered': (('shape', 'texture'), (64, 64), 1000,
                 (3, 10, 30, 100, 300, 1000), 500, 16, 30,
                 (1e-3, 3e-3)),
    'celeb_a': (('Male', 'Blond_Hair'), (512, 512), 20_000,
                (10, 30, 100, 300, 1000), 0, 32, 20, (3e-4, 1e-3)),
}


def get_config(arg: str = ''):
  source, runlocal = config_lib.parse_arg(arg, _SOURCES)
  (attributes, hidden, per_group, rare_counts, test_per_group, size,
   num_epochs, lrs) = _SOURCES[source]
  # The shared fields and what each does: deepvsshallow/config.py. Data
  # come from config.source, not config.dataset.
  c = config_lib.common(None, learning_rates=lrs, num_seeds=3,
                        batch_size=64, num_epochs=num_epochs)
  c.source = source              # rendered (embedded) | celeb_a (TFDS).
  c.data_dir = ''                # celeb_a: '' = $TFDS_DATA_DIR or ~/tensorflow_datasets.
  c.attributes = attributes      # Two attributes; the group with both = 1 is the rare one.
  c.train_per_group = per_group  # Training examples of each common group (celeb_a: at most this many).
  c.rare_counts = rare_counts    # Rare-group training examples, one sweep point each.
  c.test_per_group = test_per_group  # rendered: a balanced test set of this many per group (celeb_a: its test split).
  c.image_size = size            # rendered: side in pixels (celeb_a: fixed at 32 by the data registry).
  c.data_seed = 0                # rendered: which images are drawn; also the subsampling order.
  c.hidden = hidden              # The flat and modular nets' hidden widths; one-vs-rest nets get a quarter of the budget each.
  c.activation = 'relu'          # relu | sigmoid | hard_sigmoid
  c.approaches = ('flat', 'modular', 'one_vs_rest')
  if runlocal:
    c.train_per_group = 60
    c.rare_counts = (5,)         # One sweep point: three small programs.
    c.test_per_group = 40
    c.hidden = (16, 16)
    c.num_epochs = 2
    c.num_seeds = 2
    c.learning_rates = (3e-3,)
  return c
