"""The streaming service (``wxstream serve``): weather-features -> per-station windows ->
batches -> Ray inference actors -> weather-predictions, in Kafka transactions.

``core/`` holds the pure rules (windows, batch assembly, release order, back-pressure,
group commit, stopping, restore policy, stall detection); the modules beside it are the
thin IO around them: the loop (:class:`InferenceService`), the record source, the
deliveries, the actors and the Ray runtime. ``testing/`` runs the loop in memory.
"""

from __future__ import annotations

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
from wxstream.streaming.service import (
    ServiceSummary,
    run_service,
    transactional_id_for,
    validate_settings,
)
from wxstream.streaming.shutdown import GracefulShutdown, graceful_shutdown

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
