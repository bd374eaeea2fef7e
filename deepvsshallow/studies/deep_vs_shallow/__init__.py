"""Deep vs shallow (the main job): deep-and-thin vs shallow-and-fat MLPs at
matched parameter counts, with a logistic baseline and shallow nets that
mimic the deep ones (Seide et al. 2011; Ba & Caruana 2014)."""

from deepvsshallow import study
from deepvsshallow.studies.deep_vs_shallow import config, experiment, report

STUDY = study.Study(
    name='deep_vs_shallow',
    chapter=study.Chapter(
        title='Deep and thin vs shallow and fat',
        claim='At equal parameter counts, deep-and-thin nets beat '
              'shallow-and-fat ones.',
        anchor=report.anchor()),
    fields=config.FIELDS,
    get_config=config.get_config,
    experiment=experiment.run,
    headline=report.headline,
    minutes=6.4)

train_and_evaluate = STUDY.train_and_evaluate
