"""Plots carry what the reader needs: risk table counts, labels in the chosen language."""

import matplotlib

matplotlib.use("Agg")

import warnings

import pandas as pd

from workbench.plots import km_plot


def test_km_plot_risk_table_and_chinese_labels():
    data = pd.DataFrame({"days": [30, 60, 90, 400, 500, 700, 45, 800], "event": [1, 1, 0, 1, 0, 1, 1, 0],
                         "arm": ["a"] * 4 + ["b"] * 4})
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Glyph .* missing")  # Chinese must render, not boxes
        fig = km_plot(data, duration="days", event="event", group="arm", lang="zh")
        fig.canvas.draw()
    curves, table = fig.axes
    counts = [text.get_text() for text in table.texts]
    assert counts.count("4") == 2                       # both arms start with 4 at risk
    assert any(text.get_text().startswith("Log-rank 检验 p") for text in curves.texts)
    assert table.get_xlabel() == "月" and curves.get_ylabel() == "生存概率"
