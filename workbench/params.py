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

import abc
import datetime as dt
import functools
import inspect
import numbers
from typing import Any, Callable, Iterable, Mapping

__all__ = ["ALPHA", "COLUMN", "COLUMNS", "FRAME", "TABLES", "Constraint", "Date", "Either", "Instance",
           "Interval", "NonEmptyStr", "Optional", "Options", "ParameterError", "Predicate", "Sequence", "check",
           "validate_params"]


class ParameterError(ValueError, TypeError):
    """A parameter that breaks its declared rule; the message says which, the rule and the value."""


def sentence(function: str, name: str, rule: str, value: Any) -> str:
    """The one sentence for a parameter that breaks its rule.

    >>> sentence("km", "alpha", "a float in (0, 1)", 1.5)
    "The 'alpha' parameter of km must be a float in (0, 1). Got 1.5 instead."
    """
    return f"The {name!r} parameter of {function} must be {rule}. Got {shown(value)} instead."


def shown(value: Any) -> str:
    """``repr(value)``, or for a value whose repr is long or spans lines (a table, the analysis
    tables) what it is: its type, and a frame's columns.

    >>> shown([1, 2]), shown("x" * 200), shown(list(range(100)))
    ('[1, 2]', 'a str of 200 characters', 'a list of 100 items')
    >>> import pandas as pd
    >>> shown(pd.DataFrame({"a": range(30), "b": 0}))
    "a DataFrame of 30 rows with the columns ['a', 'b']"
    """
    text = repr(value)
    if len(text) <= 100 and "\n" not in text:
        return text
    kind = type(value).__name__
    if isinstance(value, str):
        return f"a str of {len(value)} characters"
    columns = getattr(value, "columns", None)
    if columns is not None and not callable(columns):
        listed = repr([str(c) for c in columns])
        if len(listed) <= 200:
            return f"a {kind} of {len(value)} rows with the columns {listed}"
    try:
        return f"a {kind} of {len(value)} items"
    except TypeError:  # not sized
        return f"a {kind}"


class Constraint(abc.ABC):
    """What a parameter must be: :meth:`accepts` a value, :meth:`describe` says it in words."""

    @abc.abstractmethod
    def accepts(self, value: Any) -> bool:
        """Whether ``value`` keeps the rule."""

    @abc.abstractmethod
    def describe(self) -> str:
        """The rule in words, as it ends "must be ..."."""


class Interval(Constraint):
    """A number of ``kind`` (``int``, ``float`` or ``"real"``: either) between ``low`` and ``high``
    (None: unbounded), ``closed`` on ``"both"``, ``"left"``, ``"right"`` or ``"neither"`` side.
    Booleans and NaN are never numbers here.

    >>> Interval(int, 1, None).describe(), Interval(float, 0, 1, closed="neither").describe()
    ('an int >= 1', 'a float in (0, 1)')
    >>> Interval(int, 100, 1_000_000).describe(), Interval(float, 0.5, None, closed="neither").describe()
    ('an int in [100, 1000000]', 'a float > 0.5')
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
        if value != value:  # NaN, of any float type
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
        low, high = _number(self.low), _number(self.high)
        if self.low is not None and self.high is not None:
            return f"{what} in {'[' if left else '('}{low}, {high}{']' if right else ')'}"
        if self.low is not None:
            return f"{what} {'>=' if left else '>'} {low}"
        if self.high is not None:
            return f"{what} {'<=' if right else '<'} {high}"
        return what


def _number(x: float | None) -> str:
    """A bound as written: whole numbers in full (1000000, not 1e+06)."""
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


class Options(Constraint):
    """One of the given values (a bool only where a bool is one of them); ``of``: a function giving
    them when the rule is used, for options declared elsewhere (the questionnaires, the measures).

    >>> Options("en", "zh").describe(), Options(1, 2, 3).accepts(True)
    ("one of 'en', 'zh'", False)
    >>> Options(of=lambda: ["phq9", "gad7"]).describe()
    "one of 'phq9', 'gad7'"
    """

    def __init__(self, *values, of: Callable[[], Iterable] | None = None):
        if values and of is not None:
            raise ValueError("Options takes values or of=, not both")
        self._values, self._of = tuple(values), of

    @property
    def values(self) -> tuple:
        return tuple(self._of()) if self._of is not None else self._values

    def accepts(self, value: Any) -> bool:
        values = self.values
        if isinstance(value, bool) and not any(v is value for v in values):
            return False  # True is not the option 1
        try:
            return bool(value in values)
        except (TypeError, ValueError):  # an incomparable value (an array, pandas.NA)
            return False

    def describe(self) -> str:
        return "one of " + ", ".join(map(repr, self.values))


class Instance(Constraint):
    """An instance of one of ``types``, described as ``name``. A type may be given as its dotted
    path (``"workbench.tables.Tables"``): it is imported when first needed, so declaring a rule
    imports nothing.

    >>> Instance(str, name="a str").accepts("x"), Instance(str, name="a str").accepts(1)
    (True, False)
    >>> Instance("fractions.Fraction", name="a fraction").accepts(1)
    False
    """

    def __init__(self, *types: type | str, name: str):
        self.types, self.name = types, name
        self._resolved: tuple[type, ...] | None = None

    def _classes(self) -> tuple[type, ...]:
        if self._resolved is None:
            import importlib

            classes = []
            for t in self.types:
                if isinstance(t, str):
                    module, _, attribute = t.rpartition(".")
                    t = getattr(importlib.import_module(module), attribute)
                classes.append(t)
            self._resolved = tuple(classes)
        return self._resolved

    def accepts(self, value: Any) -> bool:
        classes = self._classes()
        return isinstance(value, classes) and not (isinstance(value, bool) and bool not in classes)

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
    """A day: ``datetime.date``, a pandas Timestamp, a ``numpy.datetime64`` or text pandas reads as
    a date (``'YYYY-MM-DD'``; never a hidden "today": there is no default). A number is not a
    date, nor is a missing one (None, NaT).

    >>> Date().accepts("2025-06-30"), Date().accepts("soon"), Date().accepts(None), Date().accepts(20250630)
    (True, False, False, False)
    """

    def accepts(self, value: Any) -> bool:
        if value is None or isinstance(value, (bool, numbers.Number)):
            return False
        import pandas as pd

        if isinstance(value, dt.date):  # datetime.datetime and pandas.Timestamp too
            return value is not pd.NaT
        try:
            stamp = pd.Timestamp(value)
        except (TypeError, ValueError, OverflowError):
            return False
        return not pd.isna(stamp)

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
    """Any rule a function can test, with its words (or a function giving them, for a rule whose
    words are known only when it is used, as the instruments declared).

    >>> Predicate(lambda v: v % 24 == 0, "a multiple of 24").accepts(48)
    True
    >>> Predicate(lambda v: v in ("a", "b"), lambda: "one of " + ", ".join(("a", "b"))).describe()
    'one of a, b'
    """

    def __init__(self, test: Callable[[Any], bool], words: str | Callable[[], str]):
        self.test, self.words = test, words

    def accepts(self, value: Any) -> bool:
        try:
            return bool(self.test(value))
        except Exception:  # noqa: BLE001 - a value the test cannot even look at breaks the rule
            return False

    def describe(self) -> str:
        return self.words() if callable(self.words) else self.words


class Either(Constraint):
    """Any one of several constraints; ``words`` say them together when joining with "or" reads badly.

    >>> Either(Options("sample"), Interval(float, 0, None, closed="neither")).describe()
    "one of 'sample' or a float > 0"
    """

    def __init__(self, *constraints: Constraint, words: str | None = None):
        self.constraints, self.words = constraints, words

    def accepts(self, value: Any) -> bool:
        return any(c.accepts(value) for c in self.constraints)

    def describe(self) -> str:
        return self.words or " or ".join(c.describe() for c in self.constraints)


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


def validate_params(constraints: Mapping[str, Constraint], *, name: str | None = None) -> Callable:
    """Decorate a function so that its parameters are checked against ``constraints`` (by name)
    before it runs; a parameter not named is not checked. ``name`` is the function's name in
    the sentence (default its ``__name__``; say the class for an ``__init__``).

    The declaration checks itself: a parameter the function does not have, or a default that
    breaks its own rule, is refused when the function is defined.
    """

    def decorate(fn: Callable) -> Callable:
        signature = inspect.signature(fn)
        unknown = [p for p in constraints if p not in signature.parameters]
        if unknown:
            raise TypeError(f"validate_params: {fn.__name__} has no parameter {unknown}")
        function = name or fn.__name__
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        order = [p.name for p in signature.parameters.values() if p.kind in positional]
        plan = []
        for p, constraint in constraints.items():
            parameter = signature.parameters[p]
            if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                raise TypeError(f"validate_params: {fn.__name__}'s {p!r} collects arguments; declare rules one by one")
            if parameter.default is not parameter.empty and not constraint.accepts(parameter.default):
                raise TypeError(f"validate_params: the default of {fn.__name__}'s {p!r} breaks its own rule: "
                                + sentence(function, p, constraint.describe(), parameter.default))
            plan.append((p, order.index(p) if p in order else None, constraint))

        @functools.wraps(fn)
        def run(*args, **kwargs):
            for p, at, constraint in plan:  # an argument not given keeps its default, checked above
                if p in kwargs:
                    value = kwargs[p]
                elif at is not None and at < len(args):
                    value = args[at]
                else:
                    continue
                if not constraint.accepts(value):
                    raise ParameterError(sentence(function, p, constraint.describe(), value))
            return fn(*args, **kwargs)

        run.parameter_constraints = dict(constraints)  # declared data: documentation and tests read it
        run.parameter_function = function
        return run

    return decorate


def rules(constraints: Mapping[str, Constraint]) -> Iterable[tuple[str, str]]:
    """``(parameter, rule in words)`` of declared constraints, for documentation.

    >>> list(rules({"alpha": Interval(float, 0, 1, closed="neither")}))
    [('alpha', 'a float in (0, 1)')]
    """
    return [(name, c.describe()) for name, c in constraints.items()]


# --- rules many functions share, declared once ----------------------------------------------------

#: 1 - confidence level.
ALPHA = Interval(float, 0, 1, closed="neither")
#: One column of a table.
COLUMN = Predicate(lambda v: isinstance(v, str) and v != "", "a column name (str)")
#: ``by``-style arguments: None, one column name or a list of them.
COLUMNS = Either(Options(None), COLUMN, Sequence(COLUMN), words="None, a column name or a list of column names")
#: A table of data.
FRAME = Instance("pandas.DataFrame", name="a pandas DataFrame")
#: The analysis tables.
TABLES = Instance("workbench.tables.Tables", name="workbench.tables.Tables (e.g. workbench.sample.load_sample())")
