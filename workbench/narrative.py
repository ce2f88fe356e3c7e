"""The words of the workshop notebooks, in Chinese and English, with their numbers filled in.

Every paragraph a notebook shows (the question, the method, what a result means, the exercises)
lives in ``workbench/i18n/notebooks/<notebook>.yaml`` as ``key: {zh: ..., en: ...}`` Markdown, so
the whole text follows the notebook's ``LANG`` and a translation is checked to exist, with the same
placeholders, in both languages. Numbers come from the analysis in the cell above and are filled
in by name (``{dropout_2}``), formatted by :func:`pct`, :func:`ci` and :func:`num`, never typed
into the text.

>>> say = Narrative("00_example", "en", texts={"hello": {"zh": "共 {n} 人", "en": "{n} people"}})
>>> say.text("hello", n=3)
'3 people'
"""

from __future__ import annotations

import functools
import math
import re
import string
from pathlib import Path
from typing import Any, Mapping

from workbench._declarations import load_yaml
from workbench.instruments import LANG, LANGUAGES
from workbench.params import check, validate_params

__all__ = ["Narrative", "NarrativeError", "ci", "est", "num", "p_value", "pct", "texts", "used_keys"]

HERE = Path(__file__).with_name("i18n") / "notebooks"


class NarrativeError(ValueError):
    """A notebook's text that is missing, untranslated or has mismatched placeholders."""


def _fields(text: str) -> set[str]:
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(text) if name}


def _check(table: Any, where: str) -> dict[str, dict[str, str]]:
    if not isinstance(table, dict):
        raise NarrativeError(f"{where}: expected 'key: {{zh: ..., en: ...}}' entries")
    problems = []
    for key, texts in table.items():
        if not isinstance(key, str) or not isinstance(texts, dict):
            problems.append(f"{key!r}: expected a mapping of language -> text")
            continue
        missing = [lang for lang in LANGUAGES if not str(texts.get(lang) or "").strip()]
        if missing:
            problems.append(f"{key!r} has no text in {missing}")
            continue
        fields = {lang: _fields(str(texts[lang])) for lang in LANGUAGES}
        if len({frozenset(f) for f in fields.values()}) > 1:
            problems.append(f"{key!r}: the placeholders differ between languages {fields}")
    if problems:
        raise NarrativeError(f"{where}: " + "; ".join(problems))
    return table


@functools.lru_cache(maxsize=None)
def texts(notebook: str) -> dict[str, dict[str, str]]:
    """The checked texts of one notebook (``workbench/i18n/notebooks/<notebook>.yaml``)."""
    path = HERE / f"{notebook}.yaml"
    if not path.exists():
        raise NarrativeError(f"No texts for notebook {notebook!r}: expected {path}")
    return _check(load_yaml(path.read_text(encoding="utf-8")), path.name)


def _finite(x: Any) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def pct(x: Any, digits: int = 1) -> str:
    """A proportion as a percentage: ``pct(0.2057) == '20.6%'``; a missing value is a dash.

    >>> pct(0.20570), pct(float("nan"))
    ('20.6%', '–')
    """
    return f"{100 * float(x):.{digits}f}%" if _finite(x) else "–"


def num(x: Any, digits: int = 1) -> str:
    """A number with ``digits`` decimals and thousands separators; a missing value is a dash.

    >>> num(1234.567), num(3, 0), num(None)
    ('1,234.6', '3', '–')
    """
    return f"{float(x):,.{digits}f}" if _finite(x) else "–"


@validate_params({"lang": LANG})
def ci(low: Any, high: Any, *, lang: str = "en", percent: bool = False, digits: int = 1, level: int = 95) -> str:
    """A confidence interval in words of ``lang``.

    >>> ci(0.177, 0.239, percent=True), ci(0.177, 0.239, lang="zh", percent=True)
    ('95% CI 17.7% to 23.9%', '95% 置信区间 17.7%～23.9%')
    >>> ci(float("nan"), 2.0)
    '95% CI not estimable'
    """
    show = (lambda v: pct(v, digits)) if percent else (lambda v: num(v, digits))
    if not (_finite(low) and _finite(high)):
        return f"{level}% 置信区间无法估计" if lang == "zh" else f"{level}% CI not estimable"
    if lang == "zh":
        return f"{level}% 置信区间 {show(low)}～{show(high)}"
    return f"{level}% CI {show(low)} to {show(high)}"


def est(value: Any, low: Any, high: Any, *, lang: str = "en", percent: bool = False, digits: int = 1) -> str:
    """An estimate with its interval, short enough for a table cell.

    >>> est(0.206, 0.177, 0.239, percent=True), est(1.39, 1.17, 1.65, digits=2, lang="zh")
    ('20.6% (17.7% to 23.9%)', '1.39（1.17～1.65）')
    """
    show = (lambda v: pct(v, digits)) if percent else (lambda v: num(v, digits))
    if not (_finite(low) and _finite(high)):
        return show(value)
    return f"{show(value)}（{show(low)}～{show(high)}）" if lang == "zh" else f"{show(value)} ({show(low)} to {show(high)})"


def p_value(p: Any) -> str:
    """A p-value as journals print it: three decimals, "<0.001" below that.

    >>> p_value(0.04321), p_value(0.00002), p_value(None)
    ('0.043', '<0.001', '–')
    """
    if not _finite(p):
        return "–"
    return "<0.001" if float(p) < 0.001 else f"{float(p):.3f}"


class Narrative:
    """The texts of one notebook in one language; calling it shows a paragraph.

    Parameters
    ----------
    notebook : str
        The notebook's file stem, e.g. ``"03_cohort_survival"``.
    lang : {"zh", "en"}
    texts : mapping, optional
        The texts themselves (for tests); by default read from the notebook's YAML.

    Examples
    --------
    >>> say = Narrative("00_example", "zh", texts={"p": {"zh": "脱落 {x}", "en": "Dropout {x}"}})
    >>> say.text("p", x=pct(0.206))
    '脱落 20.6%'
    """

    def __init__(self, notebook: str, lang: str, *, texts: Mapping[str, Mapping[str, str]] | None = None):
        check("Narrative", "lang", lang, LANG)
        self.notebook, self.lang = notebook, lang
        self._texts = _check(dict(texts), notebook) if texts is not None else globals()["texts"](notebook)

    def text(self, key: str, /, **values: Any) -> str:
        """The paragraph ``key`` in this language with ``values`` filled in (all of them needed)."""
        try:
            template = str(self._texts[key][self.lang])
        except KeyError:
            raise NarrativeError(f"{self.notebook}: no text {key!r}; add it to "
                                 f"workbench/i18n/notebooks/{self.notebook}.yaml") from None
        needed = _fields(template)
        missing, extra = needed - set(values), set(values) - needed
        if missing or extra:
            raise NarrativeError(f"{self.notebook}: text {key!r} needs {sorted(needed)}; "
                                 f"missing {sorted(missing)}, not used {sorted(extra)}")
        return template.format(**values).strip()

    def __call__(self, key: str, /, **values: Any) -> None:
        """Show the paragraph ``key`` as Markdown in the notebook."""
        from IPython.display import Markdown, display

        display(Markdown(self.text(key, **values)))

    def keys(self) -> list[str]:
        return list(self._texts)


#: ``say("key")`` and ``say.text("key")`` calls in a notebook's code, found by :func:`used_keys`.
SAY = re.compile(r"""\bsay(?:\.text)?\(\s*["']([A-Za-z0-9_.\-]+)["']""")


def used_keys(source: str) -> list[str]:
    """The text keys a notebook's code shows with ``say("key", ...)`` or uses as a label with
    ``say.text("key")`` (a table's column name, a figure title).

    >>> used_keys('say("q")\\nsay( "m.x", a=1)\\ncols = {"n": say.text("col.n")}')
    ['q', 'm.x', 'col.n']
    """
    return SAY.findall(source)
