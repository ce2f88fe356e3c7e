"""Interface strings in Chinese (zh) and English (en).

>>> t("female", "zh"), t("female", "en")
('女', 'Female')
"""

from __future__ import annotations

import functools
from pathlib import Path


from workbench.instruments import LANG, LANGUAGES
from workbench.params import validate_params
from workbench._declarations import load_yaml

__all__ = ["LANGUAGES", "strings", "t"]


@functools.lru_cache(maxsize=None)
def strings() -> dict[str, dict[str, str]]:
    """Every interface string, checked to exist in every language."""
    table = load_yaml((Path(__file__).with_name("strings.yaml")).read_text(encoding="utf-8"))
    for key, texts in table.items():
        if not isinstance(key, str):  # YAML 1.1 reads an unquoted yes/no/on/off key as a bool
            raise ValueError(f"strings.yaml: the key {key!r} is not text; quote it")
        missing = [lang for lang in LANGUAGES if not str(texts.get(lang, "")).strip()]
        if missing:
            raise ValueError(f"strings.yaml: {key!r} has no text in {missing}")
    return table


@validate_params({"lang": LANG})
def t(key: str, lang: str = "en") -> str:
    """The interface string ``key`` in ``lang``."""
    try:
        return strings()[key][lang]
    except KeyError:
        raise KeyError(f"No interface string {key!r}; add it to workbench/i18n/strings.yaml") from None
