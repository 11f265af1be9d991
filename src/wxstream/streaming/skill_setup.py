"""Building the live skill of ``serve`` from its settings: the join, the history port on
Kafka and, with ``--auto-promote``, the promoter wired to the registry."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from functools import partial

from wxstream.errors import ConfigError
from wxstream.rollout.live import LiveSkill, SkillHistory
from wxstream.settings import ServeSettings
from wxstream.streaming.auto_promote import AutoPromoter, move_aliases
from wxstream.streaming.core.assembly import BatchAssembler
from wxstream.streaming.live_skill import ServiceSkill, committed_positions
from wxstream.streaming.metrics import ServiceMetrics
from wxstream.streaming.ports import RecordSource
from wxstream.streaming.served_versions import VersionDirs
from wxstream.streaming.skill_history import read_skill_history

logger = logging.getLogger(__name__)


def live_skill_for(
    settings: ServeSettings,
    versions: VersionDirs,
    leads_h: Sequence[int],
    *,
    metrics: ServiceMetrics,
    source: RecordSource,
    assembler: BatchAssembler,
) -> ServiceSkill | None:
    """The service's live skill (``None`` without ``live_skill``).

    Raises:
        ConfigError: ``auto_promote`` without a champion and a challenger in the
            registry to decide between.
    """
    if not (settings.live_skill or settings.auto_promote):
        return None
    shadow = versions.challenger_dir is not None and settings.shadow
    live = LiveSkill(max(leads_h), settings.skill_slack_h, keep_records=settings.auto_promote)
    promoter = None
    if settings.auto_promote:
        if versions.champion_version is None or versions.challenger_version is None:
            raise ConfigError(
                f"--auto-promote needs model {versions.name!r} to have a champion and a "
                "challenger in the registry",
                fix=f"wxstream models promote {versions.name} VERSION --alias challenger "
                '--why "..." (or drop --auto-promote)',
            )
        promoter = AutoPromoter(
            live,
            model_name=versions.name,
            champion=versions.champion_version,
            challenger=versions.challenger_version,
            move=partial(
                move_aliases,
                settings.model.forecasting_dir,
                versions.name,
                versions.champion_version,
                versions.challenger_version,
                # A service following alias moves announces its own: it swaps live.
                settings.kafka if settings.follow_alias_moves else None,
            ),
        )

    def history(positions: Mapping[int, int]) -> SkillHistory:
        return read_skill_history(settings.kafka, positions, shadow=shadow)

    return ServiceSkill(
        live,
        metrics,
        history=history,
        positions=partial(committed_positions, source, assembler),
        on_pairs=promoter,
    )
