"""Shared reading and checking of the YAML declarations (questionnaires, policies, thresholds).

Each kind of declaration collects every problem it finds as ``"key.path: what is wrong"`` and
raises them all at once, so a broken file is refused in one readable message.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Mapping

import yaml

LANGUAGES = ("en", "zh")


#: libyaml's safe loader when PyYAML has it (10x faster: the declarations load at every app start).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """YAML text parsed safely (plain data only), with libyaml when available.

    >>> load_yaml("a: [1, 2]")
    {'a': [1, 2]}
    """
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader


def read_yaml(path: Path, error: type[ValueError]) -> Any:
    """The parsed file, or ``error`` naming the file when it is not valid YAML."""
    try:
        return load_yaml(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise error(f"{Path(path).name}: not valid YAML: {exc}") from exc


def refuse(path: Path, what: str, problems: list[str], error: type[ValueError]) -> None:
    """Raise ``error`` listing every problem, if there is any."""
    if problems:
        raise error(f"{Path(path).name}: {len(problems)} problem(s) in the {what}:\n"
                    + "\n".join(f"- {p}" for p in problems))


def texts(value: Any, where: str, problems: list[str]) -> dict[str, str]:
    """A ``{en, zh}`` mapping with both texts present and non-empty (else a problem each)."""
    if not isinstance(value, Mapping):
        problems.append(f"{where}: must map each language {list(LANGUAGES)} to a text")
        return {lang: "" for lang in LANGUAGES}
    out = {}
    for lang in LANGUAGES:
        text = value.get(lang)
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{where}.{lang}: the {lang} text is missing or empty")
            text = ""
        out[lang] = text.strip()
    return out


@functools.lru_cache(maxsize=1)
def measures() -> dict[str, Any]:
    """``workbench/data/measurements.yaml``: units, conversions, plausible ranges, answers,
    cross-field rules and settings of the physiological measurements (read once)."""
    return load_yaml((Path(__file__).parent / "data" / "measurements.yaml").read_text(encoding="utf-8"))
