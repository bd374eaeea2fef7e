"""Ideal vs real (the lecture's "鱼与熊掌"): how much of a model family's
test loss is the data's fault?

For deep and shallow MLP families across parameter counts, each net trains
once on the real MNIST-1D training set (4,000 examples, less validation) and
once on an "ideal" one: MNIST-1D generated 50x larger by the same package
with another seed (so none of its examples is a test example). Each trains
to convergence: at a constant learning rate until its validation loss has
not improved for `patience` (in steps, the same on both sets; a run that
reaches the step cap first is marked as such); the best-validation-loss
epoch is kept and the learning rate is picked on validation loss (the
figure is about loss). Both are evaluated on the same real test set. The lecture predicts that the gap between real and ideal grows with
the size of the function set (the parameter count), and that depth reaches
a low loss with fewer parameters. The report (`report.py`) says what
happens, comparing test losses paired over the shared test examples.

Files: trials.jsonl, results.json, results.md, results.png.
"""

from __future__ import annotations

import functools

from deepvsshallow import config as config_lib
from deepvsshallow import models, params, runner, tasks, train
from deepvsshallow.studies.ideal_vs_real import report


def architectures(config, input_dim: int, num_classes: int):
  """[(family, hidden_widths, matched_to)]: each deep width (matched_to
  None), and the one-hidden-layer net whose count is nearest it (matched_to:
  the deep net's name, e.g. '16x16x16')."""
  out = []
  for width in config.deep_widths:
    deep = (width,) * config.deep_depth
    out.append(('deep', deep, None))
    out.append(('shallow', (params.shallow_match(input_dim, deep,
                                                 num_classes).width,),
                report.net_name(deep)))
  return out


def tested(p: runner.Picked, test) -> dict:
  """Row's test fields: each picked member's cross-entropy on each test
  example, and its test error."""
  if p.pick is None:
    return {}
  means, per_example = p.evaluate(test, per_example=True)
  losses = per_example['loss']
  return {'test_loss_per_seed': tuple(float(v) for v in losses.mean(1)),
          'test_losses': runner.encode_examples(losses),
          'test_error_per_seed': tuple(float(v) for v in means['error'])}


def run(run: runner.Run) -> dict:
  config = run.config
  real = run.load_dataset()
  generator = config_lib.generator_of(config)
  ideal_args = {'num_samples': generator['num_samples']
                * config.ideal_factor, 'seed': config.ideal_seed}
  run.log(f'Generating the ideal set ({ideal_args["num_samples"]:,} '
          'samples; prepared once, then cached)...')
  ideal = run.load_dataset(config.dataset, generator=ideal_args)
  # num_epochs and patience count passes over the real set; the ideal set
  # gets as many steps.
  steps = len(real.train) // config.batch_size * config.num_epochs
  settings = {'real': run.settings,
              'ideal': train.in_passes_over(run.settings, len(real.train),
                                            len(ideal.train))}
  task = tasks.selecting_on(tasks.get_task(real.task), config.select_on)
  grid = architectures(config, real.input_dim, real.num_classes)
  matched_to = {(family, widths): deep for family, widths, deep in grid}
  populations = [
      runner.Population(
          f'{kind} {family} {"x".join(map(str, widths))}',
          functools.partial(models.MLP, real.input_dim, widths,
                            real.num_classes),
          ds, info={'data': kind, 'family': family,
                    'hidden_widths': list(widths),
                    'train_examples': len(ds.train),
                    'num_epochs': settings[kind].num_epochs,
                    'patience': settings[kind].patience},
          task=task, settings=settings[kind])
      for kind, ds in (('real', real), ('ideal', ideal))
      for family, widths, _ in grid]
  picked = run.train_all(populations)
  test = run.read_test(real)     # The same real test set for both.
  rows = [report.Row(data=p.info['data'], family=p.info['family'],
                     hidden_widths=tuple(p.info['hidden_widths']),
                     param_count=p.info['param_count'],
                     train_examples=p.info['train_examples'],
                     num_epochs=p.info['num_epochs'],
                     scores=run.scores(p, test),
                     convergence=p.convergence(p.info['patience']),
                     matched_to=matched_to[(p.info['family'],
                                            tuple(p.info['hidden_widths']))],
                     **tested(p, test))
          for p in picked]
  return run.finish(
      {'rows': rows, 'min_patience_passes': train.MIN_PATIENCE_PASSES,
       'steps': steps,
       'patience_steps': len(real.train) // config.batch_size
                         * config.patience,
       'train_examples': {'real': len(real.train),
                          'ideal': len(ideal.train)}},
      render=report.render_markdown, figures={'results.png': report.plot},
      console=report.console)
