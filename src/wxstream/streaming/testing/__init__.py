"""The service loop in memory: a record source, a delivery and a forecaster without
Kafka or Ray, and a clock that moves only when told, so that the loop's rules run in
milliseconds.

Shaped like bytewax's ``TestingSource``: the input is a list of items per partition
(a record value, or a ``(key, value)`` pair), with markers among them:

* :class:`EOF`: this source reads no further in the partition (a later source on the
  same :class:`MemoryLog`, a restart, reads on);
* :class:`ABORT`: the next delivery aborts (as an aborted Kafka transaction does);
* :class:`REVOKE` / :class:`ASSIGN`: a rebalance takes partitions away / hands them
  (back) over; several markers at one place fire in order.

Each marker fires once per :class:`MemoryLog`, when a partition's reading reaches it.
"""

from wxstream.streaming.testing.delivery import ListDelivery
from wxstream.streaming.testing.forecaster import (
    F32,
    MemoryForecaster,
    TestingModel,
    persistence_forecast,
)
from wxstream.streaming.testing.skill_history import memory_history
from wxstream.streaming.testing.source import (
    ABORT,
    ASSIGN,
    BASE_TIMESTAMP_MS,
    EOF,
    REVOKE,
    FakeClock,
    Item,
    Marker,
    MemoryLog,
    MemoryRecord,
    TestingSource,
)

__all__ = [
    "ABORT",
    "ASSIGN",
    "BASE_TIMESTAMP_MS",
    "EOF",
    "F32",
    "REVOKE",
    "FakeClock",
    "Item",
    "ListDelivery",
    "Marker",
    "MemoryForecaster",
    "MemoryLog",
    "MemoryRecord",
    "TestingModel",
    "TestingSource",
    "memory_history",
    "persistence_forecast",
]
