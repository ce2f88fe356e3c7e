"""Coded values of the severe-mental-disorder tables, shared by their declaration
(:mod:`workbench.tables`) and the SMD rules (:mod:`workbench.smd`, whose policy file gives each code
its Chinese and English words), so each list is written once and nothing below the tables depends
on the rules.

>>> len(DISORDERS), STABILITIES[-1]
(6, 'unstable')
"""

from __future__ import annotations

#: The six registered disorders (register.diagnosis), as the contract names them.
DISORDERS = ("schizophrenia", "schizoaffective", "delusional", "bipolar", "epilepsy_mental",
             "intellectual_disability_mental")
#: The stability classes of a follow-up (病情稳定 / 基本稳定 / 不稳定), least serious first.
STABILITIES = ("stable", "basically_stable", "unstable")
#: The risk grades (危险性评估).
GRADES = (0, 1, 2, 3, 4, 5)
#: The answers of a follow-up the rules read, and their values.
ITEM_VALUES = {"symptoms": ("remitted", "residual", "marked"), "insight": ("full", "partial", "none"),
               "social_function": ("fair", "poor"), "adverse_reaction": ("none", "mild", "acute"),
               "physical_illness": ("none", "mild", "serious")}
#: Other coded columns of the contract.
MODES = ("face_to_face", "phone")
REGULARITY = ("regular", "intermittent", "none")
GUARDIANS = ("parent", "spouse", "child", "sibling", "other", "none")
LEFT_REASONS = ("moved", "died", "diagnosis_revised", "other")
