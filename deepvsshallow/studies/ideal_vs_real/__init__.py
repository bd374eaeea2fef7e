"""Ideal vs real (鱼与熊掌): deep and shallow MLP families on the real
MNIST-1D training set and on a 50x larger generated one, tested alike."""

from deepvsshallow import study
from deepvsshallow.studies.ideal_vs_real import config, experiment, report

STUDY = study.Study(
    name='ideal_vs_real',
    chapter=study.Chapter(
        title='Ideal vs real (鱼与熊掌)',
        claim='A larger function set gets closer to the ideal but needs more '
              'data; depth reaches a low loss with fewer parameters.',
        anchor=report.anchor()),
    fields=config.FIELDS,
    get_config=config.get_config,
    experiment=experiment.run,
    headline=report.headline,
    minutes=17)

train_and_evaluate = STUDY.train_and_evaluate
