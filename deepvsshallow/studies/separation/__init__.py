"""Deeper layers pull look-alike classes apart: a deep MLP and its matched
shallow net, probed layer by layer on one pair of classes."""

from deepvsshallow import study
from deepvsshallow.studies.separation import config, experiment, report

STUDY = study.Study(
    name='separation',
    chapter=study.Chapter(
        title='Deeper layers pull look-alike classes apart',
        claim='Deeper layers separate classes that look alike.',
        anchor=report.anchor()),
    fields=config.FIELDS,
    get_config=config.get_config,
    experiment=experiment.run,
    headline=report.headline,
    minutes=1.4)

train_and_evaluate = STUDY.train_and_evaluate
