"""Can the structure be found automatically? Regularized evolution against
random search over MLPs with per-layer widths under a parameter budget
(Real et al. 2019)."""

from deepvsshallow import study
from deepvsshallow.studies.architecture_search import (config, experiment,
                                                       report)

STUDY = study.Study(
    name='architecture_search',
    chapter=study.Chapter(
        title='Can the structure be found automatically?',
        claim='A search over architectures can find the structure.',
        anchor=report.anchor()),
    fields=config.FIELDS,
    get_config=config.get_config,
    experiment=experiment.run,
    headline=report.headline,
    minutes=8.7)

train_and_evaluate = STUDY.train_and_evaluate
