"""A risk model people can trust: a named outcome, validated by time and by community, calibrated,
with its model card and its predictions stored beside the tier (never replacing it).

Never a suicide-risk score (REFERENCE.md, NICE NG225): the model flags residents for a person to
act on.
"""
