"""Write the input of make_reference.R: out-of-sample predicted risks and outcomes (p, y).

Datasets: the sample's temporal validation of the logistic and of the boosted model, its
leave-one-community-out validation of the logistic model (``workbench.risk.validation``; the frame
with the sample's ``wearable_days``, as the programme builds it), and a small hand-made set with
tied risks.

Run from the repository root: ``.venv/bin/python tests/reference/risk_calibration/make_risk_data.py``,
then ``Rscript tests/reference/risk_calibration/make_reference.R``.
"""

from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
#: A hand-made set: 14 risks with ties, 6 events.
HAND_P = [0.05, 0.1, 0.1, 0.2, 0.25, 0.3, 0.3, 0.4, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9]
HAND_Y = [0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 1, 1, 0, 1]


def frames() -> pd.DataFrame:
    from workbench.risk.dataset import model_frame
    from workbench.risk.validation import community_predictions, temporal_predictions
    from workbench.sample import load_sample

    tables = load_sample()
    frame = model_frame(tables, wearable_days=tables.wearable_days)
    parts = [temporal_predictions(frame, kind="logistic").assign(dataset="temporal_logistic"),
             temporal_predictions(frame, kind="boosting").assign(dataset="temporal_boosting"),
             community_predictions(frame, kind="logistic").assign(dataset="community_logistic")]
    sample = pd.concat(parts, ignore_index=True)[["dataset", "decision_id", "p", "y"]]
    hand = pd.DataFrame({"dataset": "hand", "decision_id": [f"h{i + 1}" for i in range(len(HAND_P))],
                         "p": HAND_P, "y": HAND_Y})
    out = pd.concat([sample, hand], ignore_index=True)
    out["y"] = out["y"].astype(int)
    return out


if __name__ == "__main__":
    frames().to_csv(HERE / "data_risk_predictions.csv", index=False, float_format="%.17g")
