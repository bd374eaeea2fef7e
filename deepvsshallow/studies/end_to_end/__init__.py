"""End to end vs a hand-crafted front end: the same classifiers on raw
signals and on MFCC-style features (DFT -> filter bank -> log -> DCT)."""

from deepvsshallow import study
from deepvsshallow.studies.end_to_end import config, experiment, report

STUDY = study.Study(
    name='end_to_end',
    chapter=study.Chapter(
        title='End-to-end learning vs a hand-built pipeline',
        claim='Learning the whole pipeline ties with or beats a hand-crafted '
        'front end.',
        anchor=report.anchor()),
    fields=config.FIELDS,
    get_config=config.get_config,
    experiment=experiment.run,
    headline=report.headline,
    minutes=10.5)

train_and_evaluate = STUDY.train_and_evaluate
