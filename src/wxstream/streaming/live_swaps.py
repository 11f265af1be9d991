"""Setting up live swaps for ``serve``: the control topic's watcher, the actors as the
version host, and the :class:`~.version_swap.VersionSwapper` the loop calls."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from wxstream.errors import TopicMissingError
from wxstream.models.forecasting_model import ForecastingModel
from wxstream.models.registry import ModelRef
from wxstream.settings import ServeSettings
from wxstream.streaming.actor_pool import ActorPool
from wxstream.streaming.actor_versions import ActorVersions
from wxstream.streaming.alias_watcher import AliasWatcher
from wxstream.streaming.core.swap import Served, SwapPlan
from wxstream.streaming.core.versions import ServedVersion
from wxstream.streaming.metrics import ServiceMetrics
from wxstream.streaming.served_versions import VersionDirs
from wxstream.streaming.version_swap import Prepared, VersionSwapper

logger = logging.getLogger(__name__)


@dataclass
class LiveSwaps:
    """The swapper and the watcher feeding it; :meth:`close` stops both."""

    swapper: VersionSwapper
    watcher: AliasWatcher

    def close(self) -> None:
        self.watcher.close()
        self.swapper.close()


def live_swaps(
    settings: ServeSettings,
    versions: VersionDirs,
    model: ForecastingModel,
    challenger: ServedVersion | None,
    *,
    pool: ActorPool,
    metrics: ServiceMetrics,
) -> LiveSwaps | None:
    """The live swaps of a service serving ``versions`` (``None``: it serves them
    throughout: off by the settings, a pinned reference or no registry version, or no
    control topic)."""
    text = settings.model.model_name
    if (
        not settings.follow_alias_moves
        or text is None
        or ModelRef.parse(text).selector is not None
        or versions.champion_version is None
    ):
        return None
    try:
        watcher = AliasWatcher(settings.kafka)
    except TopicMissingError:
        logger.warning(
            "control topic %s does not exist: alias moves of %s apply at the next start "
            "only (`wxstream topics create` creates it)",
            settings.kafka.control_topic,
            versions.name,
        )
        return None
    served = Served(versions.champion_version, versions.challenger_version)
    initial = Prepared(
        served,
        model,
        challenger,
        (
            str(versions.champion_dir),
            None if versions.challenger_dir is None else str(versions.challenger_dir),
        ),
    )
    host = ActorVersions(pool, settings.model.forecasting_dir, versions.name, model)
    plan = SwapPlan(versions.name, served)
    swapper = VersionSwapper(
        plan, initial, host, watcher.states, metrics=metrics, clock=time.monotonic
    )
    logger.info("following alias moves of %s on %s", versions.name, settings.kafka.control_topic)
    return LiveSwaps(swapper, watcher.start())
