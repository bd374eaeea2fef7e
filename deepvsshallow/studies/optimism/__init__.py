"""Selection is training: the optimism of the best of K candidates picked on
validation, against K, with the order-statistics prediction and the cure (a
holdout used once) (Cawley & Talbot 2010)."""

from deepvsshallow import study
from deepvsshallow.studies.optimism import config, experiment, report

STUDY = study.Study(
    name='optimism',
    chapter=study.Chapter(
        title='Selection is training',
        claim='Choosing among many models on a validation set is itself '
              'training on it.',
        anchor=report.ANCHOR),
    fields=config.FIELDS,
    get_config=config.get_config,
    experiment=experiment.run,
    headline=report.headline,
    minutes=3)

train_and_evaluate = STUDY.train_and_evaluate
