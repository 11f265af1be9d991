"""What the assembler hands on: a full window waiting for the model
(:class:`ForecastRequest`) and a sealed batch of them with everything its release carries
(:class:`WorkBatch`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from wxstream.features.gaps import fill_window_gaps
from wxstream.messages.dead_letters import DeadLetter
from wxstream.messages.predictions import ForecastInput
from wxstream.streaming.core.counts import IngestCounts
from wxstream.streaming.core.live_pairs import Observed
from wxstream.streaming.core.windows import StationWindow, stack_windows


@dataclass(frozen=True, slots=True)
class ForecastRequest:
    """One full window waiting for the model, and where it came from."""

    source: ForecastInput
    window: StationWindow
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class WorkBatch:
    """A sealed batch: forecasts to compute plus everything its release carries.

    Attributes:
        seq: release order (batches are released strictly by ``seq``).
        requests: full windows, in input order.
        dead_letters: rejected records gathered into this batch, in input order.
        positions: partition -> next offset, covering every record of the batch.
        sealed_at: ``time.monotonic()`` when sealed.
        counts: what the batch's records did (restored records excluded).
        anomalies: ``(key, value)`` records for ``weather-anomalies``, in input order.
        observations: the observation of every decoded record, in input order (gathered
            for the online interval calibration and the live skill).
        fill_columns: the model's optional input columns, whose missing hours
            :meth:`inputs` fills within each window.
    """

    seq: int
    requests: tuple[ForecastRequest, ...]
    dead_letters: tuple[DeadLetter, ...]
    positions: dict[int, int]
    sealed_at: float
    counts: IngestCounts = field(default_factory=IngestCounts)
    anomalies: tuple[tuple[bytes, bytes], ...] = ()
    observations: tuple[Observed, ...] = ()
    fill_columns: tuple[int, ...] = ()

    def inputs(self) -> npt.NDArray[np.float32]:
        """The ``(B, lookback, F)`` model input of the batch, the missing hours of the
        optional inputs filled within each window as in training."""
        x = stack_windows([r.window for r in self.requests])
        return fill_window_gaps(x, self.fill_columns)[0] if self.fill_columns else x
