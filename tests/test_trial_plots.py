"""workbench.trial_plots: the trajectory, cost-effectiveness plane and CEAC draw what the package
computed (no numbers of their own) and label in zh and en."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from workbench import trial, trial_plots  # noqa: E402
from workbench.economics import ceac  # noqa: E402

WIDE = pd.DataFrame({"arm": ["intervention"] * 4 + ["usual_care"] * 4,
                     "phq9_0": [12, 14, 16, 18, 13, 15, 17, 19], "phq9_6": [8, 9, None, 10, 12, 13, 14, 15],
                     "phq9_12": [4, 6, None, 7, 10, 12, 14, None]})


@pytest.fixture(autouse=True)
def _close():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.mark.parametrize("lang, legend, xlabel", [("en", ["Intervention", "Usual care"], "Month since randomisation"),
                                                  ("zh", ["干预组", "常规照护组"], "随机分组后月数")])
def test_trajectory_plot_draws_the_package_means_and_intervals(lang, legend, xlabel):
    summary = trial.trajectory(WIDE, arm="arm")
    ax = trial_plots.trajectory_plot(summary, lang=lang)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == legend and ax.get_xlabel() == xlabel
    first = ax.lines[0]
    np.testing.assert_allclose(first.get_ydata(), summary.loc[summary["arm"] == "intervention", "mean"])
    labels = [t.get_text() for t in ax.texts]
    n_word = "n" if lang == "en" else "人数"
    assert f"{n_word}=4" in labels and f"{n_word}=3" in labels      # n at each point
    assert list(ax.get_xticks()) == [0, 6, 12]


def test_ce_plane_and_ceac_plot():
    reps = pd.DataFrame({"arm": "intervention", "replicate": range(4), "delta_cost": [100.0, 200.0, 300.0, -50.0],
                         "delta_effect": [0.1, 0.1, 0.1, -0.1]})
    ax = trial_plots.ce_plane(reps, wtp=2000)
    assert ax.get_xlabel() == "Incremental effect (remission)" and ax.get_ylabel() == "Incremental cost (yuan)"
    np.testing.assert_allclose(ax.collections[0].get_offsets(), reps[["delta_effect", "delta_cost"]].to_numpy())
    curve = ceac(reps, wtp=[0, 1500, 2500, 5000])
    ax = trial_plots.ceac_plot(curve, lang="zh")
    assert ax.get_ylabel() == "具有成本效果的概率" and ax.get_title() == "成本效果可接受曲线"
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.25, 0.25, 0.5, 0.75])


def test_plots_name_what_they_need():
    with pytest.raises(ValueError, match=r"trajectory_plot: summary lacks the column\(s\) \['ci_low', 'ci_high'\]"):
        trial_plots.trajectory_plot(pd.DataFrame({"arm": [], "month": [], "n": [], "mean": []}))
    with pytest.raises(ValueError, match="The 'lang' parameter of ceac_plot must be one of 'en', 'zh'"):
        trial_plots.ceac_plot(pd.DataFrame({"arm": [], "wtp": [], "probability": []}), lang="fr")
