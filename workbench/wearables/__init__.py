"""Wearable signals: Open mHealth readings, daily features against a personal baseline, alerts as policy data.

The raw readings live in partitioned Parquet outside the registry; the daily features and alert
states are the analysis table ``wearable_days``. An alert is a flag for a person to act on,
never a diagnosis; missing wear is its own state, never "normal".
"""
