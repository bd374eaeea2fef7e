"""Config fields declared once: each check's verdicts, the schema's one pass,
derived defaults, and the engine owning its settings."""

import dataclasses

import ml_collections
import pytest

from deepvsshallow import config as config_lib
from deepvsshallow import fields, train
from deepvsshallow.errors import UsageError


@pytest.mark.parametrize('check,good,bad', [
    (fields.integer(1), [1, 7], [0, 1.0, True, '3']),
    (fields.integer(2, 5), [2, 5], [1, 6]),
    (fields.integers(1), [(1, 2), [3]], [(), (0,), (1.5,), 3]),
    (fields.integers(2, allow_empty=True), [(), (2,)], [(1,)]),
    (fields.number(0, 1, low_open=True, high_open=True), [0.5], [0, 1, -1,
                                                                  float('nan')]),
    (fields.number(0), [0, 3.5], [-0.1, float('inf'), False]),
    (fields.positive_numbers(), [(1e-3, 1e-2)], [(), (0.0,), (-1,), (True,)]),
    (fields.boolean(), [True, False], [0, 'yes']),
    (fields.one_of('a', 'b'), ['a'], ['c', None]),
    (fields.subset_of('a', 'b'), [('a',), ('b', 'a')], [(), ('c',), 'a']),
    (fields.subset_of('a', allow_empty=True), [()], [('b',)]),
    (fields.text(), [''], [None, 3]),
])
def test_each_check_accepts_the_good_and_names_what_the_bad_must_be(
    check, good, bad):
  for v in good:
    assert check(v) is None, v
  for v in bad:
    assert isinstance(check(v), str), v


SCHEMA = fields.Schema({
    'n': fields.Field(3, 'A count.', fields.integer(1)),
    'm': fields.Field(fields.derived(lambda v: 2 * v['n']), 'Twice n.',
                      fields.integer(1)),
    'gone': fields.Field(fields.derived(lambda v: fields.ABSENT), 'Absent.'),
}, checks=(lambda c: [] if c.m >= c.n else ['config.m must be >= n.'],))


def test_defaults_derived_values_and_overrides():
  assert SCHEMA.config().to_dict() == {'n': 3, 'm': 6}
  assert SCHEMA.config(n=5).to_dict() == {'n': 5, 'm': 10}
  assert SCHEMA.config(n=5, m=7).to_dict() == {'n': 5, 'm': 7}
  with pytest.raises(KeyError):
    SCHEMA.config(k=1)


def test_one_pass_finds_every_problem_and_cross_checks_only_clean_fields():
  c = SCHEMA.config()
  c.n, c.m = 0, 0
  assert SCHEMA.problems(c) == ['config.n must be an integer >= 1, got 0.',
                                'config.m must be an integer >= 1, got 0.']
  c.n, c.m = 5, 2
  assert SCHEMA.problems(c) == ['config.m must be >= n.']
  extra = ml_collections.ConfigDict({'n': 1, 'm': 1, 'zzz': 0})
  [line] = SCHEMA.problems(extra)
  assert line.startswith('config.zzz')
  with pytest.raises(UsageError) as e:
    SCHEMA.validate(extra)
  assert str(e.value) == line


def test_the_engine_owns_its_settings():
  """Every TrainSettings field is a config field with the same default, so
  a config's settings equal the engine's defaults."""
  schema = config_lib.schema(None, {})
  settings = train.TrainSettings.from_config(schema.config())
  assert settings == train.TrainSettings()
  for f in dataclasses.fields(train.TrainSettings):
    assert schema.fields[f.name].default == f.default
  c = schema.config(optimizer='adam')
  c.optimizer, c.batch_size = 'lbfgs', 0
  lines = schema.problems(c)
  assert [l.split()[0] for l in lines] == ['config.optimizer',
                                          'config.batch_size']


def test_data_fields_follow_the_dataset():
  one = config_lib.schema(config_lib.one_dataset('mnist1d'), {})
  assert dict(one.config().generator) == {'num_samples': 5000, 'seed': 42}
  assert 'generator' not in one.config(dataset='digits').keys()
  c = one.config(dataset='digits')
  c.batch_size = 100_000
  [line] = one.problems(c)
  assert line.startswith('config.batch_size=100000')
  c = one.config()
  c.generator.num_samples = 10
  assert one.problems(c)[0].startswith('config.generator.num_samples')
