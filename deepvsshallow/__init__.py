"""deepvsshallow: the claims of the lecture "Why deep learning?" as experiments.

Public modules (import them directly; this package imports none of the heavy
ones, so `import deepvsshallow` stays cheap):

  deepvsshallow.config           the shared config fields and their checks
  deepvsshallow.params           parameter counts, width matching, budgets
  deepvsshallow.data             dataset registry (TFDS, offline digits)
  deepvsshallow.tasks            losses and metrics: what a study trains
  deepvsshallow.distortions      R / RTS distorted digits
  deepvsshallow.models           MLP, Linear, CNN, SpatialTransformer, ...
  deepvsshallow.train            pure train_step, one program per run
  deepvsshallow.runner           the shared skeleton of every study
  deepvsshallow.selection        picking on validation, and its optimism
  deepvsshallow.ops              affine_grid, bilinear_sample, nearest_sample
  deepvsshallow.studies.*        each study: train_and_evaluate(config, workdir)
"""

__version__ = '0.1.0'
