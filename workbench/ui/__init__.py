"""ipywidgets components of the staff apps (Voila) and the notebooks.

Each component works without a browser (its state is plain Python, tested in
``tests/test_ui.py``); the apps in ``notebooks/apps/`` only compose them. Every label comes
from ``workbench/i18n/strings.yaml`` or the questionnaire declarations, in Chinese and English.
"""

from workbench.ui._base import (STYLE, App, DEFAULT_LANGUAGE, FieldMessage, StaffGate, app_language, guarded, page_query,
                                signed_in_user, working_date)
from workbench.ui.caseload import CONTACT_KINDS, CaseloadView, caseload_table_html
from workbench.ui.explorer import KMExplorer, cohort_frame, html_table, warm_up_plots
from workbench.ui.item import ItemQuestion
from workbench.ui.quality import QualityBoard, board_months
from workbench.ui.screening import (OPTIONAL_QUESTIONNAIRES, QuestionnaireForm, ResidentFinder, SafetyBanner,
                                    ScreeningStation, TierCard, screening_summary)

__all__ = [
    "App",
    "CONTACT_KINDS",
    "CaseloadView",
    "DEFAULT_LANGUAGE",
    "FieldMessage",
    "ItemQuestion",
    "KMExplorer",
    "OPTIONAL_QUESTIONNAIRES",
    "QualityBoard",
    "QuestionnaireForm",
    "ResidentFinder",
    "STYLE",
    "SafetyBanner",
    "StaffGate",
    "ScreeningStation",
    "TierCard",
    "app_language",
    "board_months",
    "caseload_table_html",
    "cohort_frame",
    "guarded",
    "html_table",
    "page_query",
    "screening_summary",
    "signed_in_user",
    "warm_up_plots",
    "working_date",
]
