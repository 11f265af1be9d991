"""What every detector reports: an :class:`Anomaly` for one station, hour and variable.

The finding is the ``weather-anomalies`` wire message's content, so it is defined with
its codec in :mod:`wxstream.messages.anomalies`; this module names it for the detectors.
"""

from __future__ import annotations

from wxstream.messages.anomalies import CHECKS, SEVERITIES, VARIABLES, Anomaly, Severity

__all__ = ["CHECKS", "SEVERITIES", "VARIABLES", "Anomaly", "Severity"]
