"""Outcomes: response, remission, reliable change, NHS Talking Therapies metrics, CMS159, registry flags.

Response, remission, recovery and reliable change are coded once, in :mod:`workbench.outcomes.pairs`
(:func:`classify_pairs`); every other function and module uses that coding.

Every threshold is declared once, with its source, in ``thresholds.yaml`` beside this file
(loaded and validated on import; see :func:`thresholds`). Functions take long, tidy tables and
keyword-only column names, and return tidy DataFrames with fixed snake_case columns. A missing
score is never read as 0, and dates that matter (``on``) are always arguments, never "today".
"""

from workbench.outcomes._config import JTParameters, OutcomeConfigError, Thresholds, load_thresholds, thresholds
from workbench.outcomes._inputs import OutcomeDataError
from workbench.outcomes.change import change, jacobson_truax, jt_cutoffs
from workbench.outcomes.cms159 import cms159
from workbench.outcomes.pairs import classify_pairs
from workbench.outcomes.registry import registry_flags
from workbench.outcomes.talking_therapies import METRICS, rates, referral_outcomes
from workbench.outcomes.worklist import FOLLOW_UP_COLUMNS, follow_up_interval, follow_up_list

thresholds()  # validate the shipped declaration on import: a bad file fails here, naming the key

__all__ = [
    "FOLLOW_UP_COLUMNS",
    "JTParameters",
    "METRICS",
    "OutcomeConfigError",
    "OutcomeDataError",
    "Thresholds",
    "change",
    "classify_pairs",
    "cms159",
    "follow_up_interval",
    "follow_up_list",
    "jacobson_truax",
    "jt_cutoffs",
    "load_thresholds",
    "rates",
    "referral_outcomes",
    "registry_flags",
    "thresholds",
]
