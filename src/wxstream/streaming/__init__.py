"""The streaming service (``wxstream serve``): weather-features -> per-station windows ->
batches -> Ray inference actors -> weather-predictions, in Kafka transactions.

``core/`` holds the pure rules (windows, batch assembly, release order, back-pressure,
group commit, stopping, restore policy, stall detection); the modules beside it are the
thin IO around them: the loop (:class:`InferenceService`), the record source, the
deliveries, the actors and the Ray runtime. ``testing/`` runs the loop in memory.

The names below load their module on first use (PEP 562): importing a pure module such
as ``wxstream.streaming.core.windows`` runs this ``__init__`` first, and it must not drag
in the Kafka client or Ray.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wxstream.streaming.actor import (
        ActorInfo,
        ActorPlacement,
        DeviceInfo,
        InferenceActor,
        actor_options,
        spawn_actors,
    )
    from wxstream.streaming.actor_pool import ActorPool
    from wxstream.streaming.background import Background, ServiceThread, service_thread
    from wxstream.streaming.delivery import AtLeastOnceDelivery, TransactionalDelivery
    from wxstream.streaming.loop import InferenceService
    from wxstream.streaming.metrics import ServiceMetrics
    from wxstream.streaming.ports import Completed, Delivery, Forecaster, RecordSource, ServedModel
    from wxstream.streaming.record_source import KafkaRecordSource
    from wxstream.streaming.service import (
        ServiceSummary,
        run_service,
        transactional_id_for,
        validate_settings,
    )
    from wxstream.streaming.shutdown import GracefulShutdown, graceful_shutdown

_MODULE_OF: dict[str, str] = {
    "ActorInfo": "wxstream.streaming.actor",
    "ActorPlacement": "wxstream.streaming.actor",
    "ActorPool": "wxstream.streaming.actor_pool",
    "AtLeastOnceDelivery": "wxstream.streaming.delivery",
    "Background": "wxstream.streaming.background",
    "Completed": "wxstream.streaming.ports",
    "Delivery": "wxstream.streaming.ports",
    "DeviceInfo": "wxstream.streaming.actor",
    "Forecaster": "wxstream.streaming.ports",
    "GracefulShutdown": "wxstream.streaming.shutdown",
    "InferenceActor": "wxstream.streaming.actor",
    "InferenceService": "wxstream.streaming.loop",
    "KafkaRecordSource": "wxstream.streaming.record_source",
    "RecordSource": "wxstream.streaming.ports",
    "ServedModel": "wxstream.streaming.ports",
    "ServiceMetrics": "wxstream.streaming.metrics",
    "ServiceSummary": "wxstream.streaming.service",
    "ServiceThread": "wxstream.streaming.background",
    "TransactionalDelivery": "wxstream.streaming.delivery",
    "actor_options": "wxstream.streaming.actor",
    "graceful_shutdown": "wxstream.streaming.shutdown",
    "run_service": "wxstream.streaming.service",
    "service_thread": "wxstream.streaming.background",
    "spawn_actors": "wxstream.streaming.actor",
    "transactional_id_for": "wxstream.streaming.service",
    "validate_settings": "wxstream.streaming.service",
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next access skips this function
    return value


__all__ = [
    "ActorInfo",
    "ActorPlacement",
    "ActorPool",
    "AtLeastOnceDelivery",
    "Background",
    "Completed",
    "Delivery",
    "DeviceInfo",
    "Forecaster",
    "GracefulShutdown",
    "InferenceActor",
    "InferenceService",
    "KafkaRecordSource",
    "RecordSource",
    "ServedModel",
    "ServiceMetrics",
    "ServiceSummary",
    "ServiceThread",
    "TransactionalDelivery",
    "actor_options",
    "graceful_shutdown",
    "run_service",
    "service_thread",
    "spawn_actors",
    "transactional_id_for",
    "validate_settings",
]
