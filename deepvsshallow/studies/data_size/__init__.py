"""Where depth pays: deep nets and their parameter-matched shallow nets
across training-set sizes of generated MNIST-1D, each trained to
convergence (the lecture's "deep nets overfit less"; Seide et al. 2011)."""

from deepvsshallow import study
from deepvsshallow.studies.data_size import config, experiment, report

STUDY = study.Study(
    name='data_size',
    chapter=study.Chapter(
        title='Where depth pays: deep vs shallow across training-set size',
        claim='Deep nets overfit less: at equal parameters they beat shallow '
              'nets, and most where data is scarce.',
        anchor=report.anchor()),
    fields=config.FIELDS,
    get_config=config.get_config,
    experiment=experiment.run,
    headline=report.headline,
    minutes=32,
    in_lecture=False)   # 32 minutes alone; run it on its own.

train_and_evaluate = STUDY.train_and_evaluate
