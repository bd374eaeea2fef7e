"""Weight sharing: CNNs and RNNs at the paper's sizes and one matched
budget, on MNIST-1D plain and shuffled (Greydanus 2020)."""

from deepvsshallow import study
from deepvsshallow.studies.weight_sharing import config, experiment, report

STUDY = study.Study(
    name='weight_sharing',
    chapter=study.Chapter(
        title='Weight sharing: CNNs and RNNs',
        claim='Sharing weights (convolution, recurrence) saves parameters.',
        anchor=report.anchor()),
    fields=config.FIELDS,
    get_config=config.get_config,
    experiment=experiment.run,
    headline=report.headline,
    minutes=12.8)

train_and_evaluate = STUDY.train_and_evaluate
