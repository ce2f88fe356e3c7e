"""Workbench for community mental-health care joined to chronic-disease care.

The public API: questionnaires as data (:mod:`workbench.instruments`), one scoring engine
(:func:`score`), stepped-care policies and their application (:func:`screen`, :func:`decide`),
outcomes (:mod:`workbench.outcomes`) and a seeded sample community (:mod:`workbench.synth`).

Names are imported on first use (PEP 562), so ``import workbench`` costs almost nothing and a
staff app loads only what it uses: the screening station never imports scipy, lifelines or
matplotlib. ``from workbench import score`` and ``workbench.score`` work as usual.

Examples
--------
>>> import workbench
>>> workbench.score is workbench.scoring.score
True
>>> sorted(set(workbench.__all__) - set(dir(workbench)))
[]
>>> workbench.no_such_name
Traceback (most recent call last):
AttributeError: module 'workbench' has no attribute 'no_such_name'
"""

from __future__ import annotations

from workbench._lazy import lazy_names

__version__ = "0.1.0"

#: Public name -> the module that defines it (imported when the name is first used).
_LAZY = {
    "AssignmentError": "workbench.stepped_care",
    "assign_tiers": "workbench.stepped_care",
    "decide": "workbench.stepped_care",
    "screen": "workbench.stepped_care",
    "Policy": "workbench.policy",
    "PolicyError": "workbench.policy",
    "load_policy": "workbench.policy",
    "Instrument": "workbench.instruments",
    "InstrumentError": "workbench.instruments",
    "get_instrument": "workbench.instruments",
    "instrument_ids": "workbench.instruments",
    "load_instrument": "workbench.instruments",
    "ResponseError": "workbench.scoring",
    "ScoreResult": "workbench.scoring",
    "check_answers": "workbench.scoring",
    "instruments_in": "workbench.scoring",
    "score": "workbench.scoring",
    "score_all": "workbench.scoring",
    "score_valid": "workbench.scoring",
}
#: Subpackages reachable as attributes (``workbench.outcomes``) without an explicit import.
_SUBMODULES = {"outcomes"}

__all__ = sorted([*_LAZY, *_SUBMODULES, "__version__"])


__getattr__, __dir__ = lazy_names(__name__, _LAZY, frozenset(_SUBMODULES))
