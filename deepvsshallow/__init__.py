"""deepvsshallow: the claims of the lecture "Why deep learning?" as experiments.

Public modules (import them directly; importing changes no JAX state, and
this package imports none of the heavy ones, so `import deepvsshallow`
stays cheap):

  deepvsshallow.studies          the registry of studies; each study a package
  deepvsshallow.study            a study's record (name, chapter, config, run, headline)
  deepvsshallow.fields           a config field declared once: default, meaning, check
  deepvsshallow.config           the fields every study shares
  deepvsshallow.runtime          setup(): the JAX settings a launcher switches on
  deepvsshallow.stats            the one comparison every verdict uses
  deepvsshallow.params           parameter counts, width matching, budgets
  deepvsshallow.data             dataset registry (TFDS, offline digits)
  deepvsshallow.tasks            losses and metrics: what a study trains
  deepvsshallow.distortions      R / RTS distorted digits
  deepvsshallow.models           MLP, Linear, CNN, SpatialTransformer, ...
  deepvsshallow.train            pure train_step, one program per run
  deepvsshallow.runner           the shared skeleton of every study
  deepvsshallow.store            a run's files: resume, array tasks, the codec
  deepvsshallow.selection        picking on validation, and what it costs
  deepvsshallow.lecture          every study and one REPORT.md
  deepvsshallow.ops              affine_grid, bilinear_sample, nearest_sample
"""

__version__ = '0.1.0'
