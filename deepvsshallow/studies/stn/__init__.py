"""Spatial transformers on distorted digits: FCN, CNN, ST-FCN and ST-CNN at
about equal parameter counts (Jaderberg et al. 2015, Table 1), and why the
sampler must be bilinear."""

from deepvsshallow import study
from deepvsshallow.studies.stn import config, experiment, report

STUDY = study.Study(
    name='stn',
    chapter=study.Chapter(
        title='Spatial transformers',
        claim='A spatial transformer (6 affine parameters, bilinear '
        'sampling) lets a net undo rotation, scale and translation.',
        anchor=report.anchor()),
    fields=config.FIELDS,
    get_config=config.get_config,
    experiment=experiment.run,
    headline=report.headline,
    minutes=4.2)

train_and_evaluate = STUDY.train_and_evaluate
