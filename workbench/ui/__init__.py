"""ipywidgets components of the staff apps (Voila) and the notebooks.

Each component works without a browser (its state is plain Python, tested in
``tests/test_ui.py``); the apps in ``notebooks/apps/`` only compose them. Every label comes
from ``workbench/i18n/strings.yaml`` or the questionnaire declarations, in Chinese and English.

Components are imported on first use: the screening station does not load the cohort
explorer's survival analysis and plots, nor the quality board's indicators.
"""

from workbench._lazy import lazy_names

_BASE = "workbench.ui._base"
_LAZY = {
    **dict.fromkeys(["STYLE", "App", "DEFAULT_LANGUAGE", "FieldMessage", "StaffGate", "app_language", "guarded",
                     "page_query", "signed_in_user", "working_date"], _BASE),
    **dict.fromkeys(["CONTACT_KINDS", "CaseloadView", "caseload_table_html", "chronic_table_html"],
                    "workbench.ui.caseload"),
    **dict.fromkeys(["KMExplorer", "cohort_frame", "html_table", "warm_up_plots"], "workbench.ui.explorer"),
    "ItemQuestion": "workbench.ui.item",
    **dict.fromkeys(["QualityBoard", "board_months"], "workbench.ui.quality"),
    **dict.fromkeys(["OPTIONAL_QUESTIONNAIRES", "QuestionnaireForm", "ResidentFinder", "SafetyBanner",
                     "ScreeningStation", "TierCard", "screening_summary"], "workbench.ui.screening"),
    **dict.fromkeys(["SmdBanner", "SmdCard", "SmdFollowUpForm", "SmdSection", "smd_table_html"], "workbench.ui.smd"),
    **dict.fromkeys(["CaseloadFinder", "ChronicCard", "VisitView", "follow_up_questionnaire"], "workbench.ui.visit"),
    "CommunityMap": "workbench.ui.community_map",
    "QualityMap": "workbench.ui.quality_map",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_names(__name__, _LAZY)
