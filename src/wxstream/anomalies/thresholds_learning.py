"""Every limit of ``qc_thresholds.json`` learnt in one call: the QC limits and the buddy
limits on the training rows, the forecast-residual limits on a clean period with the
model itself.

``wxstream train`` (and the demo's training) call it right after the fit, and
``wxstream anomalies evaluate`` calls it before scoring, so the thresholds a model
carries are learnt the same way whichever path made them.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from wxstream.anomalies.flat_forecast import learn_flat_forecast_limits
from wxstream.anomalies.learning import LearningQuantiles, learn_thresholds
from wxstream.anomalies.neighbours import Groups, NeighbourLearning, learn_neighbour_limits
from wxstream.anomalies.residual import learn_residual_limits
from wxstream.anomalies.thresholds import FlatForecastLimits, QcThresholds

if TYPE_CHECKING:
    from wxstream.models.forecasting_model import ForecastingModel


def learn_model_thresholds(
    train: pd.DataFrame,
    validation: pd.DataFrame,
    *,
    source: str,
    groups: Groups,
    model: ForecastingModel | None = None,
    quantiles: LearningQuantiles | None = None,
    buddy: NeighbourLearning | None = None,
) -> QcThresholds:
    """The QC, buddy and (with ``model``) residual and forecast flat-line limits.

    Args:
        train: hourly feature rows of the training period; rows the decoder would
            refuse are dropped first (the stage never sees them).
        validation: clean rows the model did not train on, where its lead-1 residuals
            are scored; the training rows stand in when it is empty.
        source: recorded in ``learned_from``.
        groups: the buddy check's station groups (``{}``: no buddy limits).
        model: the forecaster whose residuals set the residual limits; ``None`` leaves
            them unset (the residual detector is then off).
        quantiles: quantile levels; default :class:`LearningQuantiles`.
        buddy: how the buddy limits are learnt; default :class:`NeighbourLearning`.

    Raises:
        DataError: too few consecutive training hours.
    """
    from wxstream.messages import publishable_mask

    learning = quantiles or LearningQuantiles()
    buddy_learning = buddy or NeighbourLearning()
    train = train.loc[publishable_mask(train)].reset_index(drop=True)
    thresholds = learn_thresholds(train, learning, source=source)
    thresholds = replace(
        thresholds,
        neighbour_window_h=buddy_learning.window_h,
        neighbour_baseline_h=buddy_learning.baseline_h,
        neighbours=learn_neighbour_limits(train, groups, buddy_learning),
    )
    if model is None:
        return thresholds
    from wxstream.anomalies.evaluation import stream_frame
    from wxstream.anomalies.offline import flat_forecast_scores, issued_forecasts, lead1_residuals

    if not validation.empty:
        validation = validation.loc[publishable_mask(validation)].reset_index(drop=True)
    clean_period = stream_frame(validation if not validation.empty else train)
    issued = issued_forecasts(model, clean_period)
    z = lead1_residuals(model, clean_period, issued)
    # Scores without a limit: the limit is what they teach.
    unlimited = FlatForecastLimits(learning.flat_forecast_min_run_h, np.inf, np.inf)
    return replace(
        thresholds,
        residual=learn_residual_limits(z, quantile=learning.residual, bad_ratio=learning.bad_ratio),
        flat_forecast=learn_flat_forecast_limits(
            flat_forecast_scores(clean_period, issued, unlimited),
            min_run_h=learning.flat_forecast_min_run_h,
            quantile=learning.flat_forecast,
            bad_ratio=learning.bad_ratio,
        ),
    )


def write_model_thresholds(
    model_dir: Path, train: pd.DataFrame, validation: pd.DataFrame, *, source: str
) -> Path:
    """Learn the limits for the model just written at ``model_dir`` and store them there
    as ``qc_thresholds.json`` (the buddy groups are the source's own, if it has any).

    Args:
        model_dir: the freshly trained model's directory.
        train: the rows it trained on.
        validation: the rows it was validated on (its residuals are scored there).
        source: the data source name (selects the groups, recorded in ``learned_from``).
    """
    from wxstream.anomalies.neighbours import SOURCE_GROUPS
    from wxstream.anomalies.thresholds_file import write_qc_thresholds
    from wxstream.models.model_loader import load_model

    model = load_model(model_dir, device="cpu")
    thresholds = learn_model_thresholds(
        train, validation, source=source, groups=SOURCE_GROUPS.get(source, {}), model=model
    )
    return write_qc_thresholds(model_dir, thresholds)
