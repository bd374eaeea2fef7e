"""Modularity, the rare group: a flat 4-way MLP, the same trunk with two
attribute heads, and 4 one-vs-rest MLPs, for growing counts of a rare
group's training examples."""

from deepvsshallow import study
from deepvsshallow.studies.modularity import config, experiment, report

STUDY = study.Study(
    name='modularity',
    chapter=study.Chapter(
        title='Modularity: the rare group',
        claim='Modular, shared features need less data for a rare class.',
        anchor=report.anchor()),
    fields=config.FIELDS,
    get_config=config.get_config,
    experiment=experiment.run,
    headline=report.headline,
    minutes=7.1)

train_and_evaluate = STUDY.train_and_evaluate
