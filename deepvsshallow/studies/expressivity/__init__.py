"""What one layer and many layers can build: hand-built networks checked
against their closed forms, and what training from random starts finds."""

from deepvsshallow import study
from deepvsshallow.studies.expressivity import config, experiment, report

STUDY = study.Study(
    name='expressivity',
    chapter=study.Chapter(
        title='What one layer and many layers can build',
        claim='One hidden layer builds any piecewise-linear function, but k '
        'layers of 2 ReLUs make 2^k pieces, and deep nets approximate x² '
        'and parity more cheaply.',
        anchor=report.anchor()),
    fields=config.FIELDS,
    get_config=config.get_config,
    experiment=experiment.run,
    headline=report.headline,
    minutes=5.3)

train_and_evaluate = STUDY.train_and_evaluate
