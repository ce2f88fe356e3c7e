"""Shared reading and checking of the YAML declarations (questionnaires, policies, thresholds).

Each kind of declaration collects every problem it finds as ``"key.path: what is wrong"`` and
raises them all at once, so a broken file is refused in one readable message.
"""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any, Callable, Mapping

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


# --- the follow-up policies (chronic care, severe mental disorders): loading and shared checks ------

#: A policy name or id: a lower-case identifier.
IDENT = re.compile(r"^[a-z][a-z0-9_]*$")
POLICY_FOLDER = Path(__file__).resolve().parent / "policies"


def load_policy_file(policy: Any, *, kind: type, prefix: str, what: str, error: type[ValueError],
                     build: Callable[[Any, Path | None, list[str]], Any]) -> Any:
    """A follow-up policy of class ``kind``: ``policy`` itself if already one; a mapping with the
    file's keys; a shipped file by name (``"default"`` is ``{prefix}default.yaml`` in
    ``workbench/policies/``, read once); or a YAML file by path. ``build(raw, path, problems)``
    checks every key, appending ``"key.path: what is wrong"``; any problem raises ``error`` naming
    them all."""
    if isinstance(policy, kind):
        return policy
    if isinstance(policy, Mapping):
        return _built(copy.deepcopy(dict(policy)), None, what, error, build)
    if isinstance(policy, str) and IDENT.match(policy):
        path = POLICY_FOLDER / f"{policy if policy.startswith(prefix) else prefix + policy}.yaml"
        if not path.is_file():
            shipped = sorted(p.stem.removeprefix(prefix) for p in POLICY_FOLDER.glob(f"{prefix}*.yaml"))
            raise KeyError(f"No shipped {what} {policy!r}; shipped: {shipped}. Pass a file path for your own.")
        return _shipped(path, what, error, build)
    if not isinstance(policy, (str, Path)):
        raise TypeError(f"A {what} is a name, a path, a mapping or a {kind.__name__}. Got {policy!r} instead.")
    path = Path(policy)
    if not path.is_file():
        raise FileNotFoundError(f"No {what} file at {path}")
    return _built(read_yaml(path, error), path, what, error, build)


@functools.lru_cache(maxsize=None)
def _shipped(path: Path, what: str, error: type[ValueError], build: Callable) -> Any:
    return _built(read_yaml(path, error), path, what, error, build)


def _built(raw: Any, path: Path | None, what: str, error: type[ValueError], build: Callable) -> Any:
    problems: list[str] = []
    policy = build(raw, path, problems)
    refuse(path or Path("policy mapping"), what, problems, error)
    return policy


def whole(v: Any, low: int) -> bool:
    """``v`` is a whole number (not a bool) of at least ``low``."""
    return isinstance(v, int) and not isinstance(v, bool) and v >= low


def unknown_keys(entry: Mapping, allowed: set[str], where: str, problems: list[str]) -> None:
    """A problem for each key of ``entry`` not in ``allowed``."""
    for key in sorted(set(entry) - allowed, key=str):
        problems.append(f"{where}.{key}: unknown key (allowed: {sorted(allowed)})")


def source_key(entry: Mapping, where: str, sources: Mapping, problems: list[str], key: str = "source") -> str:
    """``entry[key]`` when it names one of the file's ``sources``, else a problem and ``""``."""
    value = entry.get(key)
    if value not in sources:
        problems.append(f"{where}.{key}: {value!r} is not a key of sources (known: {sorted(sources)})")
        return ""
    return str(value)


def render(texts: Mapping[str, str], values: Mapping[str, Any], where: str, problems: list[str]) -> dict[str, str]:
    """Descriptions with their placeholders filled from the declared numbers (so each number is
    declared once); a value may be a function of the language. An unknown placeholder is a problem."""
    out = {}
    for lang, text in texts.items():
        filled = {k: (v(lang) if callable(v) else v) for k, v in values.items()}
        try:
            out[lang] = text.format(**filled)
        except (KeyError, IndexError, ValueError) as err:
            problems.append(f"{where}.{lang}: unknown placeholder {err} (known: {sorted(values)})")
            out[lang] = text
    return out
