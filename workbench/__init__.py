"""Workbench for community mental-health care joined to chronic-disease care.

The public API: questionnaires as data (:mod:`workbench.instruments`), one scoring engine
(:func:`score`), and a seeded sample community (:mod:`workbench.synth`).
"""

from workbench.instruments import Instrument, InstrumentError, get_instrument, instrument_ids, load_instrument
from workbench import outcomes
from workbench.policy import Policy, PolicyError, load_policy
from workbench.stepped_care import AssignmentError, assign_tiers, decide, screen
from workbench.scoring import ResponseError, ScoreResult, check_answers, instruments_in, score, score_all, score_valid

__version__ = "0.1.0"

__all__ = [
    "AssignmentError",
    "Policy",
    "PolicyError",
    "assign_tiers",
    "decide",
    "load_policy",
    "outcomes",
    "screen",
    "Instrument",
    "InstrumentError",
    "ResponseError",
    "ScoreResult",
    "check_answers",
    "get_instrument",
    "instrument_ids",
    "instruments_in",
    "load_instrument",
    "score",
    "score_all",
    "score_valid",
    "__version__",
]
