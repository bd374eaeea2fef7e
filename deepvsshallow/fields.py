"""A config field declared once: its default, its meaning and its check.

A study declares its fields as a `Schema`; the schema makes the study's
`ml_collections.ConfigDict` (so absl's `--config=path:arg` and
`--config.field=value` work as usual, and ConfigDict's own type safety
refuses a value of another type) and checks a config in one pass:

  FIELDS = fields.Schema({
      'width': fields.Field(128, 'Units per hidden layer.', fields.integer(1)),
      'depths': fields.Field((1, 2), 'Deep nets to train.', fields.integers(1)),
  }, checks=(grid_fits,))
  config = FIELDS.config(width=64)        # defaults, then overrides
  FIELDS.problems(config)                 # [] or one line per problem

A check is `check(value) -> str | None`: None when the value is good, else
what it must be ("an integer >= 1"); the line a user sees is then
"config.width must be an integer >= 1, got 0.". A schema's cross-field
checks (`checks`) see the whole config and run only once every field passed
its own check.

Why a ConfigDict with a schema rather than a dataclass config: the config
files keep their `get_config(arg)` (a dataset and a `runlocal` argument
choose the defaults), TFDS-style nested fields (`generator.num_samples`)
stay plain, and every study's config is one JSON-able dict in its records.
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any, Callable, Iterable, Mapping

import ml_collections
import numpy as np

from deepvsshallow.errors import UsageError

Check = Callable[[Any], 'str | None']


@dataclasses.dataclass(frozen=True)
class Field:
  """One config field. `default` may be `derived(fn)`: computed from the
  other fields' values (fn returns ABSENT to leave the field out)."""
  default: Any
  meaning: str
  check: Check | None = None


ABSENT = object()


@dataclasses.dataclass(frozen=True)
class derived:  # pylint: disable=invalid-name
  fn: Callable[[Mapping[str, Any]], Any]


# ----------------------------------------------------------------- checks

def _is_int(value) -> bool:
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value) -> bool:
  return (isinstance(value, numbers.Real) and not isinstance(value, bool)
          and np.isfinite(float(value)))


def _bounds(at_least, at_most) -> str:
  if at_most is None:
    return f' >= {at_least}' if at_least is not None else ''
  return f' in [{at_least}, {at_most}]'


def integer(at_least: int | None = None, at_most: int | None = None) -> Check:
  def check(v):
    ok = _is_int(v) and (at_least is None or v >= at_least) and (
        at_most is None or v <= at_most)
    return None if ok else f'an integer{_bounds(at_least, at_most)}'
  return check


def integers(at_least: int = 1, at_most: int | None = None, *,
             allow_empty: bool = False) -> Check:
  """A list (tuple) of integers in range."""
  one = integer(at_least, at_most)
  def check(v):
    ok = isinstance(v, (tuple, list)) and (v or allow_empty) and all(
        one(x) is None for x in v)
    return None if ok else (f'a {"" if allow_empty else "non-empty "}list '
                            f'of integers{_bounds(at_least, at_most)}')
  return check


def number(low: float | None = None, high: float | None = None, *,
           low_open: bool = False, high_open: bool = False) -> Check:
  """A finite number in an interval; `low_open`/`high_open` exclude ends."""
  def inside(v):
    return _is_number(v) and (
        low is None or (v > low if low_open else v >= low)) and (
            high is None or (v < high if high_open else v <= high))
  left, right = '(' if low_open else '[', ')' if high_open else ']'
  if low is not None and high is not None:
    words = f'a number in {left}{low}, {high}{right}'
  elif low is not None:
    words = f'a number {">" if low_open else ">="} {low}'
  else:
    words = 'a finite number'
  return lambda v: None if inside(v) else words


def positive_numbers(*, or_zero: bool = False) -> Check:
  """A non-empty list of numbers > 0 (>= 0 with `or_zero`)."""
  def check(v):
    ok = isinstance(v, (tuple, list)) and v and all(
        _is_number(x) and (x >= 0 if or_zero else x > 0) for x in v)
    return None if ok else ('a non-empty list of numbers >= 0' if or_zero
                            else 'a non-empty list of positive numbers')
  return check


def boolean() -> Check:
  return lambda v: None if isinstance(v, bool) else 'True or False'


def one_of(*choices) -> Check:
  return lambda v: None if v in choices else f'one of {", ".join(choices)}'


def subset_of(*choices, allow_empty: bool = False) -> Check:
  def check(v):
    ok = isinstance(v, (tuple, list)) and (v or allow_empty) and all(
        x in choices for x in v)
    return None if ok else (f'a {"" if allow_empty else "non-empty "}subset '
                            f'of {", ".join(choices)}')
  return check


def text() -> Check:
  return lambda v: None if isinstance(v, str) else 'a string'


# ----------------------------------------------------------------- schema

class Schema:
  """A study's fields (name -> Field) and its cross-field checks."""

  def __init__(self, fields: Mapping[str, Field], *,
               checks: Iterable[Callable[[Any], Iterable[str]]] = ()):
    self.fields = dict(fields)
    self.checks = tuple(checks)

  def config(self, **overrides) -> ml_collections.ConfigDict:
    """The defaults with `overrides`; an unknown override is a KeyError (a
    bug in a config file, not a user's mistake)."""
    unknown = set(overrides) - set(self.fields)
    if unknown:
      raise KeyError(f'no fields {sorted(unknown)}; declared: '
                     f'{", ".join(self.fields)}')
    values = {}
    for name, f in self.fields.items():
      if not isinstance(f.default, derived):
        values[name] = overrides.get(name, f.default)
    for name, f in self.fields.items():
      if isinstance(f.default, derived):
        value = overrides.get(name, f.default.fn(values))
        if value is not ABSENT:
          values[name] = value
    c = ml_collections.ConfigDict()
    for name, value in values.items():
      c[name] = (ml_collections.ConfigDict(dict(value))
                 if isinstance(value, Mapping) else value)
    return c

  def problems(self, config) -> list[str]:
    """One line per problem: unknown fields, then each field's check, then
    (when every field passed) the cross-field checks."""
    # A plain copy: checking reads no field of the config itself (a test
    # can then see which fields the study reads).
    config = ml_collections.ConfigDict(config.to_dict())
    lines = []
    keys = list(config.keys())
    for name in keys:
      if name not in self.fields:
        lines.append(f'config.{name} is not a field of this study; the '
                     f'fields are {", ".join(self.fields)}.')
    for name, f in self.fields.items():
      if name not in keys or f.check is None:
        continue
      value = config[name]
      if isinstance(value, ml_collections.ConfigDict):
        value = value.to_dict()
      expected = f.check(value)
      if expected is not None:
        lines.append(f'config.{name} must be {expected}, got {value!r}.')
    if not lines:
      for check in self.checks:
        lines.extend(check(config))
    return lines

  def validate(self, config) -> None:
    """Raises one UsageError holding every problem, one per line."""
    lines = self.problems(config)
    if lines:
      raise UsageError('\n'.join(dict.fromkeys(lines)))
