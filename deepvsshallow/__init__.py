"""deepvsshallow: the claims of the lecture "Why deep learning?" as experiments.

Public modules (import them directly; this package imports none of the heavy
ones, so `import deepvsshallow` stays cheap):

  deepvsshallow.params           parameter counts, width matching, budgets
  deepvsshallow.data             dataset registry (TFDS, offline digits)
  deepvsshallow.distortions      R / RTS distorted digits
  deepvsshallow.models           MLP, CNN, SpatialTransformer, ST-FCN/ST-CNN
  deepvsshallow.train            pure train_step, population training
  deepvsshallow.selection        picking on validation, and its optimism
  deepvsshallow.ops              affine_grid, bilinear_sample, nearest_sample
  deepvsshallow.deep_vs_shallow  the main job: train_and_evaluate(config, workdir)
  deepvsshallow.stn_experiment   the spatial-transformer job
"""

__version__ = '0.1.0'
