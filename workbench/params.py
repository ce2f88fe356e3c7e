"""Parameter rules as declared data, and the one sentence that says a parameter breaks its rule.

In the spirit of scikit-learn's parameter validation: each public function declares what each
parameter must be (:func:`validate_params`, or :func:`check` for one value), and a wrong value
gets the same sentence everywhere:

    The 'alpha' parameter of km must be a float in (0, 1). Got 1.5 instead.

:class:`ParameterError` is both a ``ValueError`` and a ``TypeError``, as scikit-learn's is, so
callers catching either keep working.

Examples
--------
>>> @validate_params({"alpha": Interval(float, 0, 1, closed="neither"), "lang": Options("en", "zh")})
... def km(data, *, alpha=0.05, lang="en"):
...     return alpha
>>> km(None, alpha=0.1)
0.1
>>> km(None, alpha=1.5)
Traceback (most recent call last):
workbench.params.ParameterError: The 'alpha' parameter of km must be a float in (0, 1). Got 1.5 instead.
>>> check("dictionary", "lang", "fr", Options("en", "zh"))
Traceback (most recent call last):
workbench.params.ParameterError: The 'lang' parameter of dictionary must be one of 'en', 'zh'. Got 'fr' instead.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import math
import numbers
from typing import Any, Callable, Iterable, Mapping

__all__ = ["Constraint", "Date", "Either", "Instance", "Interval", "NonEmptyStr", "Optional", "Options",
           "ParameterError", "Predicate", "Sequence", "check", "validate_params"]


class ParameterError(ValueError, TypeError):
    """A parameter that breaks its declared rule; the message says which, the rule and the value."""


def sentence(function: str, name: str, rule: str, value: Any) -> str:
    """The one sentence for a parameter that breaks its rule.

    >>> sentence("km", "alpha", "a float in (0, 1)", 1.5)
    "The 'alpha' parameter of km must be a float in (0, 1). Got 1.5 instead."
    """
    return f"The {name!r} parameter of {function} must be {rule}. Got {value!r} instead."


class Constraint:
    """What a parameter must be: :meth:`accepts` a value, :meth:`describe` says it in words."""

    def accepts(self, value: Any) -> bool:  # pragma: no cover - every constraint overrides it
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover
        raise NotImplementedError


class Interval(Constraint):
    """A number of ``kind`` (``int``, ``float`` or ``"real"``: either) between ``low`` and ``high``
    (None: unbounded), ``closed`` on ``"both"``, ``"left"``, ``"right"`` or ``"neither"`` side.
    Booleans and NaN are never numbers here.

    >>> Interval(int, 1, None).describe(), Interval(float, 0, 1, closed="neither").describe()
    ('an int >= 1', 'a float in (0, 1)')
    >>> Interval("real", 0, None, closed="neither").accepts(2), Interval(int, 0, 10).accepts(2.0)
    (True, False)
    """

    def __init__(self, kind, low: float | None, high: float | None, *, closed: str = "both"):
        if kind not in (int, float, "real"):
            raise ValueError(f"Interval kind must be int, float or 'real'. Got {kind!r} instead.")
        if closed not in ("both", "left", "right", "neither"):
            raise ValueError(f"Interval closed must be 'both', 'left', 'right' or 'neither'. Got {closed!r} instead.")
        self.kind, self.low, self.high, self.closed = kind, low, high, closed

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        if self.kind is int and not isinstance(value, numbers.Integral):
            return False
        if isinstance(value, float) and math.isnan(value):
            return False
        left, right = self.closed in ("both", "left"), self.closed in ("both", "right")
        if self.low is not None and (value < self.low or (value == self.low and not left)):
            return False
        if self.high is not None and (value > self.high or (value == self.high and not right)):
            return False
        return True

    def describe(self) -> str:
        what = {int: "an int", float: "a float", "real": "a number"}[self.kind]
        left, right = self.closed in ("both", "left"), self.closed in ("both", "right")
        if self.low is not None and self.high is not None:
            return f"{what} in {'[' if left else '('}{self.low:g}, {self.high:g}{']' if right else ')'}"
        if self.low is not None:
            return f"{what} {'>=' if left else '>'} {self.low:g}"
        if self.high is not None:
            return f"{what} {'<=' if right else '<'} {self.high:g}"
        return what


class Options(Constraint):
    """One of the given values.

    >>> Options("en", "zh").describe()
    "one of 'en', 'zh'"
    """

    def __init__(self, *values):
        self.values = tuple(values)

    def accepts(self, value: Any) -> bool:
        try:
            return value in self.values
        except TypeError:  # an unhashable or incomparable value
            return False

    def describe(self) -> str:
        return "one of " + ", ".join(map(repr, self.values))


class Instance(Constraint):
    """An instance of one of ``types``, described as ``name``.

    >>> Instance(str, name="a str").accepts("x"), Instance(str, name="a str").accepts(1)
    (True, False)
    """

    def __init__(self, *types: type, name: str):
        self.types, self.name = types, name

    def accepts(self, value: Any) -> bool:
        return isinstance(value, self.types) and not (isinstance(value, bool) and bool not in self.types)

    def describe(self) -> str:
        return self.name


class NonEmptyStr(Constraint):
    """Text with something in it (not only spaces).

    >>> NonEmptyStr().accepts(" li "), NonEmptyStr().accepts("  ")
    (True, False)
    """

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and bool(value.strip())

    def describe(self) -> str:
        return "a non-empty str"


class Date(Constraint):
    """A day: ``datetime.date``, a pandas Timestamp or ``'YYYY-MM-DD'`` text (never a hidden "today").

    >>> Date().accepts("2025-06-30"), Date().accepts("soon"), Date().accepts(None)
    (True, False, False)
    """

    def accepts(self, value: Any) -> bool:
        if isinstance(value, (dt.date, dt.datetime)):
            return True
        if isinstance(value, str):
            try:
                dt.date.fromisoformat(value.strip()[:10])
            except ValueError:
                return False
            return True
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover
            return False
        return isinstance(value, pd.Timestamp) and not pd.isna(value)

    def describe(self) -> str:
        return "a date (datetime.date, pandas.Timestamp or 'YYYY-MM-DD')"


class Sequence(Constraint):
    """A list or tuple whose every item keeps ``item`` (``min_length`` items at least).

    >>> Sequence(Options("csv", "parquet"), min_length=1).describe()
    "a list of one of 'csv', 'parquet' (at least 1)"
    """

    def __init__(self, item: Constraint, *, min_length: int = 0):
        self.item, self.min_length = item, min_length

    def accepts(self, value: Any) -> bool:
        return (isinstance(value, (list, tuple)) and len(value) >= self.min_length
                and all(self.item.accepts(v) for v in value))

    def describe(self) -> str:
        return f"a list of {self.item.describe()}" + (f" (at least {self.min_length})" if self.min_length else "")


class Predicate(Constraint):
    """Any rule a function can test, with its words.

    >>> Predicate(lambda v: v % 24 == 0, "a multiple of 24").accepts(48)
    True
    """

    def __init__(self, test: Callable[[Any], bool], words: str):
        self.test, self.words = test, words

    def accepts(self, value: Any) -> bool:
        try:
            return bool(self.test(value))
        except Exception:  # noqa: BLE001 - a value the test cannot even look at breaks the rule
            return False

    def describe(self) -> str:
        return self.words


class Either(Constraint):
    """Any one of several constraints.

    >>> Either(Options("sample"), Interval(float, 0, None, closed="neither")).describe()
    "one of 'sample' or a float > 0"
    """

    def __init__(self, *constraints: Constraint):
        self.constraints = constraints

    def accepts(self, value: Any) -> bool:
        return any(c.accepts(value) for c in self.constraints)

    def describe(self) -> str:
        return " or ".join(c.describe() for c in self.constraints)


class Optional(Either):
    """None, or what ``constraint`` accepts.

    >>> Optional(Interval(int, 1, None)).describe()
    'None or an int >= 1'
    """

    def __init__(self, constraint: Constraint):
        super().__init__(Options(None), constraint)

    def describe(self) -> str:
        return "None or " + self.constraints[1].describe()


def check(function: str, name: str, value: Any, constraint: Constraint) -> Any:
    """``value`` if it keeps ``constraint``, else :class:`ParameterError` with the one sentence."""
    if not constraint.accepts(value):
        raise ParameterError(sentence(function, name, constraint.describe(), value))
    return value


def validate_params(constraints: Mapping[str, Constraint]) -> Callable:
    """Decorate a function so that its parameters are checked against ``constraints`` (by name)
    before it runs; a parameter not named is not checked."""

    def decorate(fn: Callable) -> Callable:
        signature = inspect.signature(fn)
        unknown = [name for name in constraints if name not in signature.parameters]
        if unknown:
            raise TypeError(f"validate_params: {fn.__name__} has no parameter {unknown}")

        @functools.wraps(fn)
        def run(*args, **kwargs):
            bound = signature.bind_partial(*args, **kwargs)
            bound.apply_defaults()
            for name, constraint in constraints.items():
                if name in bound.arguments:
                    check(fn.__name__, name, bound.arguments[name], constraint)
            return fn(*args, **kwargs)

        run.parameter_constraints = dict(constraints)  # declared data: documentation and tests read it
        return run

    return decorate


def rules(constraints: Mapping[str, Constraint]) -> Iterable[tuple[str, str]]:
    """``(parameter, rule in words)`` of declared constraints, for documentation.

    >>> list(rules({"alpha": Interval(float, 0, 1, closed="neither")}))
    [('alpha', 'a float in (0, 1)')]
    """
    return [(name, c.describe()) for name, c in constraints.items()]
