"""The studies: each one module with `train_and_evaluate(config, workdir)`.

A study holds only what is its own (its grid, its models, its report
sections); the machinery it runs on (engine, runner, data, models, ops) lives
beside this package and is shared. Adding a study adds a module here, its
config in experiments/configs/ and its launcher in experiments/.
"""
