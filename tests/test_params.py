"""Parameter rules as declared data (workbench.params), and a conformance suite over every public
function that declares them: each declared parameter, given a value its rule refuses, gets the one
sentence naming the parameter and the function, before the function does anything (so no data is
needed), as scikit-learn's parameter validation does."""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import math

import numpy as np
import pandas as pd
import pytest

from workbench.params import (ALPHA, COLUMN, COLUMNS, FRAME, TABLES, Constraint, Date, Either, Instance, Interval,
                              NonEmptyStr, Optional, Options, ParameterError, Predicate, Sequence, check, sentence,
                              shown, validate_params)

# --- the constraints -----------------------------------------------------------------------------


def test_parameter_error_is_a_value_error_and_a_type_error():
    assert issubclass(ParameterError, ValueError) and issubclass(ParameterError, TypeError)


def test_the_sentence():
    assert sentence("km", "alpha", "a float in (0, 1)", 1.5) == \
        "The 'alpha' parameter of km must be a float in (0, 1). Got 1.5 instead."
    # a long or many-line value is said by what it is, not printed whole
    frame = pd.DataFrame({"a": range(50)})
    assert sentence("f", "data", "x", frame).endswith("Got a DataFrame of 50 rows with the columns ['a'] instead.")
    assert shown(list(range(60))) == "a list of 60 items"
    assert shown("x" * 300) == "a str of 300 characters" and shown("short") == "'short'"


@pytest.mark.parametrize("value,ok", [(1, True), (10, True), (0, False), (11, False), (np.int64(5), True),
                                      (5.0, False), (True, False), (False, False), ("5", False), (None, False)])
def test_interval_of_ints_closed(value, ok):
    rule = Interval(int, 1, 10)
    assert rule.accepts(value) is ok
    assert rule.describe() == "an int in [1, 10]"


@pytest.mark.parametrize("closed,low_ok,high_ok,words", [
    ("both", True, True, "a float in [0, 1]"), ("left", True, False, "a float in [0, 1)"),
    ("right", False, True, "a float in (0, 1]"), ("neither", False, False, "a float in (0, 1)")])
def test_interval_bounds_open_and_closed(closed, low_ok, high_ok, words):
    rule = Interval(float, 0, 1, closed=closed)
    assert (rule.accepts(0.0), rule.accepts(1.0), rule.accepts(0.5)) == (low_ok, high_ok, True)
    assert rule.describe() == words


def test_interval_refuses_bools_and_nan_accepts_numpy_numbers():
    rule = Interval("real", None, None)
    assert rule.describe() == "a number"
    for value in (True, False, np.bool_(True), float("nan"), np.float32("nan"), np.nan, "1", None, [1]):
        assert not rule.accepts(value), value
    for value in (1, -2.5, np.int32(3), np.float32(0.5), np.float64(1e9), float("inf")):
        assert rule.accepts(value), value
    assert not Interval(int, 0, None).accepts(2.0)      # an int rule takes whole numbers of an int type
    assert Interval(float, 0, None).accepts(2)          # a float rule takes an int
    assert ALPHA.describe() == "a float in (0, 1)" and not ALPHA.accepts(0) and not ALPHA.accepts(1)


def test_interval_words_and_declaration():
    assert Interval(int, 100, 1_000_000).describe() == "an int in [100, 1000000]"
    assert Interval(int, 0, None).describe() == "an int >= 0"
    assert Interval(float, None, 2.5, closed="neither").describe() == "a float < 2.5"
    assert Interval(float, 0.5, None, closed="neither").describe() == "a float > 0.5"
    with pytest.raises(ValueError):
        Interval(str, 0, 1)
    with pytest.raises(ValueError):
        Interval(int, 0, 1, closed="open")


def test_options():
    rule = Options("en", "zh")
    assert rule.describe() == "one of 'en', 'zh'"
    assert rule.accepts("en") and rule.accepts(np.str_("zh")) and not rule.accepts("fr")
    assert not rule.accepts(None) and not rule.accepts(["en"]) and not rule.accepts({"en": 1})
    tiers = Options(1, 2, 3)
    assert tiers.accepts(2) and tiers.accepts(np.int64(3)) and not tiers.accepts(True)  # True is not 1
    assert Options(True, False).accepts(True)
    assert not tiers.accepts(pd.NA) and not tiers.accepts(np.array([1, 2]))
    assert Options(None).accepts(None) and not Options(None).accepts(float("nan"))


def test_instance():
    rule = Instance(int, name="an int")
    assert rule.accepts(3) and not rule.accepts(True) and not rule.accepts("3")
    assert Instance(bool, name="a bool").accepts(True)
    lazy = Instance("pandas.DataFrame", name="a pandas DataFrame")
    assert lazy.accepts(pd.DataFrame()) and not lazy.accepts({}) and lazy.describe() == "a pandas DataFrame"
    assert FRAME.accepts(pd.DataFrame()) and not FRAME.accepts(pd.Series(dtype=float))
    from workbench.tables import Tables

    assert TABLES.accepts(Tables()) and not TABLES.accepts({"residents": pd.DataFrame()})


def test_non_empty_str_and_column():
    assert NonEmptyStr().accepts(" li ") and not NonEmptyStr().accepts("  ") and not NonEmptyStr().accepts(None)
    assert NonEmptyStr().describe() == "a non-empty str"
    assert COLUMN.accepts("arm") and not COLUMN.accepts("") and not COLUMN.accepts(1)
    assert COLUMNS.accepts(None) and COLUMNS.accepts("site") and COLUMNS.accepts(["a", "b"]) and COLUMNS.accepts(())
    assert not COLUMNS.accepts(3) and not COLUMNS.accepts(["a", 1]) and not COLUMNS.accepts({"a"})
    assert COLUMNS.describe() == "None, a column name or a list of column names"


@pytest.mark.parametrize("value,ok", [
    ("2025-06-30", True), (" 2025-06-30 ", True), ("2025-06-30 10:00", True), (dt.date(2025, 6, 30), True),
    (dt.datetime(2025, 6, 30, 8), True), (pd.Timestamp("2025-06-30"), True), (np.datetime64("2025-06-30"), True),
    ("soon", False), ("2025-13-01", False), (None, False), (pd.NaT, False), (np.datetime64("NaT"), False),
    (20250630, False), (2025.5, False), (True, False), (np.int64(5), False), ([2025, 6, 30], False)])
def test_date(value, ok):
    assert Date().accepts(value) is ok
    assert Date().describe() == "a date (datetime.date, pandas.Timestamp or 'YYYY-MM-DD')"


def test_sequence():
    rule = Sequence(Options("csv", "parquet"), min_length=1)
    assert rule.accepts(["csv"]) and rule.accepts(("csv", "parquet"))
    assert not rule.accepts([]) and not rule.accepts("csv") and not rule.accepts(["xlsx"]) and not rule.accepts({"csv"})
    assert rule.describe() == "a list of one of 'csv', 'parquet' (at least 1)"
    assert Sequence(Interval(int, 0, None)).accepts([]) and Sequence(Interval(int, 0, None)).describe() == \
        "a list of an int >= 0"


def test_predicate():
    rule = Predicate(lambda v: v % 24 == 0, "a multiple of 24")
    assert rule.accepts(48) and not rule.accepts(7)
    assert not rule.accepts("x")          # a value the test cannot look at breaks the rule
    assert rule.describe() == "a multiple of 24"
    known = ["a"]
    late = Predicate(lambda v: v in known, lambda: f"one of {known}")
    known.append("b")                     # words said when used, from what is known then
    assert late.accepts("b") and late.describe() == "one of ['a', 'b']"


def test_either_and_optional():
    rule = Either(Options("sample"), Interval(float, 0, None, closed="neither"))
    assert rule.accepts("sample") and rule.accepts(2.5) and not rule.accepts(0) and not rule.accepts("all")
    assert rule.describe() == "one of 'sample' or a float > 0"
    assert Either(Options(None), COLUMN, words="None or a column").describe() == "None or a column"
    optional = Optional(Interval(int, 1, None))
    assert optional.accepts(None) and optional.accepts(3) and not optional.accepts(0) and not optional.accepts(float("nan"))
    assert optional.describe() == "None or an int >= 1"


def test_check_returns_the_value_or_raises_the_sentence():
    assert check("f", "n", 5, Interval(int, 1, None)) == 5
    with pytest.raises(ParameterError, match=r"^The 'n' parameter of f must be an int >= 1\. Got 0 instead\.$"):
        check("f", "n", 0, Interval(int, 1, None))


def test_every_constraint_is_tested_here():
    import workbench.params as params

    declared = {c for c in vars(params).values() if inspect.isclass(c) and issubclass(c, Constraint) and c is not Constraint}
    assert declared == {Interval, Options, Instance, NonEmptyStr, Date, Sequence, Predicate, Either, Optional}


# --- the decorator -------------------------------------------------------------------------------

@validate_params({"data": FRAME, "alpha": ALPHA, "lang": Options("en", "zh")})
def _km(data, *, alpha=0.05, lang="en"):
    return alpha, lang


def test_validate_params_checks_positional_and_keyword_arguments_before_the_body():
    assert _km(pd.DataFrame(), alpha=0.1) == (0.1, "en")
    with pytest.raises(ParameterError, match=r"^The 'data' parameter of _km must be a pandas DataFrame\. Got None"):
        _km(None)
    with pytest.raises(ParameterError, match=r"The 'lang' parameter of _km must be one of 'en', 'zh'\. Got 'fr'"):
        _km(data=pd.DataFrame(), lang="fr")
    assert _km.parameter_constraints["alpha"] is ALPHA and _km.parameter_function == "_km"
    assert _km.__name__ == "_km" and inspect.signature(_km) == inspect.signature(_km.__wrapped__)


def test_validate_params_checks_its_own_declaration():
    with pytest.raises(TypeError, match="has no parameter"):
        @validate_params({"beta": ALPHA})
        def f(alpha=0.05):
            return alpha
    with pytest.raises(TypeError, match="the default of g's 'alpha' breaks its own rule"):
        @validate_params({"alpha": ALPHA})
        def g(alpha=5):
            return alpha
    with pytest.raises(TypeError, match="collects arguments"):
        @validate_params({"rest": ALPHA})
        def h(**rest):
            return rest


def test_validate_params_names_a_method_by_the_name_given():
    class Board:
        @validate_params({"month": Options("2025-06")}, name="Board")
        def __init__(self, month="2025-06"):
            self.month = month

    assert Board().month == "2025-06"
    with pytest.raises(ParameterError, match=r"^The 'month' parameter of Board must be one of '2025-06'\."):
        Board("2024-01")


def test_a_missing_argument_is_left_to_python():
    with pytest.raises(TypeError, match="missing 1 required positional argument") as err:
        _km()
    assert not isinstance(err.value, ParameterError)


# --- conformance: every public function that declares its parameters ----------------------------

#: The modules whose public functions declare their parameter rules.
MODULES = ["workbench.epi", "workbench.table1", "workbench.economics", "workbench.trial", "workbench.cohort",
           "workbench.quality", "workbench.report", "workbench.survival", "workbench.scale._survival",
           "workbench.scale._cox", "workbench.scale._cohort", "workbench.registry.store", "workbench.stepped_care",
           "workbench.tables", "workbench.scoring", "workbench.outcomes.pairs", "workbench.outcomes.change",
           "workbench.outcomes.cms159", "workbench.outcomes.registry", "workbench.outcomes.worklist",
           "workbench.outcomes.talking_therapies", "workbench.synth.core", "workbench.instruments", "workbench.i18n",
           "workbench.server", "workbench.ui.quality", "workbench.ui.explorer", "workbench.regression",
           "workbench.bodymind", "workbench.smd", "workbench.wearables.alerts", "workbench.wearables.epochs",
           "workbench.wearables.evaluation", "workbench.wearables.features", "workbench.wearables.ingest",
           "workbench.wearables.store", "workbench.risk.card", "workbench.risk.models", "workbench.risk.predict",
           "workbench.risk.validation", "workbench.synth.wearables", "workbench.scale._wearables",
           "workbench.early_warning_plots", "workbench.geo.need", "workbench.geo.layers", "workbench.geo.legend",
           "workbench.geo.geography", "workbench.geo_plots", "workbench.ui.community_map"]


def _declared() -> list[tuple[str, object, object]]:
    """``(module, owner class or None, function)`` for every callable with ``parameter_constraints``."""
    found: dict[int, tuple] = {}
    for name in MODULES:
        module = importlib.import_module(name)
        for obj in vars(module).values():
            if callable(obj) and hasattr(obj, "parameter_constraints") and obj.__module__ == name:
                found[id(obj)] = (name, None, obj)
            if inspect.isclass(obj) and obj.__module__ == name:
                for attr in vars(obj).values():
                    fn = getattr(attr, "__func__", attr)
                    if hasattr(fn, "parameter_constraints"):
                        found[id(fn)] = (name, obj, fn)
    return list(found.values())


DECLARED = _declared()
CASES = [pytest.param(module, owner, fn, parameter,
                      id=f"{fn.parameter_function}:{parameter}")
         for module, owner, fn in DECLARED for parameter in fn.parameter_constraints]


def test_the_conformance_suite_covers_every_declaring_function():
    assert len(DECLARED) >= 66, [fn.parameter_function for _, _, fn in DECLARED]  # it can only grow
    assert len(CASES) >= 195


def refused(constraint: Constraint):
    """A value ``constraint`` refuses, of the kind a caller gets wrong."""
    if isinstance(constraint, Optional):
        candidates = [object(), "no such value", -1]
    elif isinstance(constraint, Interval):
        candidates = ["a str", True, float("nan"), None]
    elif isinstance(constraint, Options):
        candidates = ["no such option", None]
    elif isinstance(constraint, Date):
        candidates = ["not a date", None]
    else:
        candidates = [None, "no such value", -1, object()]
    for value in candidates:
        if not constraint.accepts(value):
            return value
    raise AssertionError(f"no refused value found for {constraint.describe()}")


@pytest.mark.parametrize("module,owner,fn,parameter", CASES)
def test_a_refused_value_gets_the_sentence_before_anything_runs(module, owner, fn, parameter):
    constraint = fn.parameter_constraints[parameter]
    bad = refused(constraint)
    expected = sentence(fn.parameter_function, parameter, constraint.describe(), bad)
    signature = inspect.signature(fn)
    assert parameter in signature.parameters
    # the function is called through its public name, with the bad value alone: the rules are
    # checked before the body, so no data is needed (a body that ran would fail otherwise)
    if owner is not None and fn.__name__ == "__init__":
        call = owner
    elif owner is not None:
        call = getattr(owner, fn.__name__)
    else:
        call = getattr(importlib.import_module(module), fn.__name__)
    with pytest.raises(ParameterError) as err:
        call(**{parameter: bad})
    assert str(err.value) == expected
    assert f"The {parameter!r} parameter of {fn.parameter_function} must be " in str(err.value)
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize("module,owner,fn", [pytest.param(*d, id=d[2].parameter_function) for d in DECLARED])
def test_declared_defaults_keep_their_rules_and_the_signature_is_kept(module, owner, fn):
    signature = inspect.signature(fn)
    assert signature == inspect.signature(fn.__wrapped__)  # keyword-only signatures, docstrings kept
    assert fn.__doc__ == fn.__wrapped__.__doc__
    for parameter, constraint in fn.parameter_constraints.items():
        default = signature.parameters[parameter].default
        if default is not inspect.Parameter.empty:
            assert constraint.accepts(default), (parameter, default)
        assert isinstance(constraint.describe(), str) and constraint.describe()
    expected = fn.__qualname__.replace(".__init__", "").split(".")[-1] if fn.__name__ == "__init__" else None
    if expected is not None:
        assert fn.parameter_function == expected      # a class is named, not "__init__"
    elif owner is None:
        assert fn.parameter_function == fn.__name__


def test_one_sentence_everywhere_no_hand_written_copies():
    """Only workbench.params writes "The '...' parameter of ..." (the sentence has one implementation)."""
    from pathlib import Path

    import workbench

    root = Path(workbench.__file__).parent
    writers = [str(p.relative_to(root)) for p in root.rglob("*.py")
               if "parameter of {" in p.read_text(encoding="utf-8") or "parameter of \" +" in p.read_text(encoding="utf-8")]
    assert writers == ["params.py"]


def test_nan_and_bools_in_real_functions():
    from workbench.epi import prevalence
    from workbench.tables import Tables
    from workbench.trial import consort

    d = pd.DataFrame({"y": [1, 0]})
    for alpha in (math.nan, True, np.float32("nan")):
        with pytest.raises(ValueError, match="The 'alpha' parameter of prevalence must be a float in"):
            prevalence(d, outcome="y", alpha=alpha)
    assert prevalence(d, outcome="y", alpha=np.float64(0.1)).attrs["alpha"] == 0.1
    with pytest.raises(ValueError, match=r"The 'months' parameter of consort must be an int >= 1\. Got True instead\."):
        consort(Tables(), months=True)
