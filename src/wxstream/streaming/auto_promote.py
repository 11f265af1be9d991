"""``serve --auto-promote``: the promotion rules of ``wxstream models decide`` run on the
live pairs, inside the service.

Once the challenger has at least ``rules.min_pairs_per_lead`` paired forecasts at every
lead, :class:`AutoPromoter` pairs the two versions' records
(:func:`~wxstream.rollout.promotion.decide_versions`, the function ``models decide``
uses) and decides; then again only after every lead gained that many new pairs, so a
decision costs once per N pairs, not once per batch. Every decision, made or declined,
is appended to the model name's history with its figures; a promotion moves the aliases
(:func:`move_aliases`, the one place where a move leaves the service) and ends the
deciding: the versions served change only when the service picks up the move.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from wxstream.errors import AliasMoveError, KafkaError
from wxstream.kafka.control_topic import publish_alias_state
from wxstream.messages import SkillRecord
from wxstream.models.registry import record_decision
from wxstream.models.registry.state import alias_state
from wxstream.rollout.live import LiveSkill
from wxstream.rollout.paired import records_frame
from wxstream.rollout.promotion import PromotionDecision, PromotionRules, decide_versions
from wxstream.settings import KafkaSettings

logger = logging.getLogger(__name__)

WHO = "wxstream serve --auto-promote"


def move_aliases(  # noqa: PLR0917 - bound with partial, the decision comes last
    forecasting_dir: Path,
    name: str,
    champion: str,
    challenger: str,
    announce: KafkaSettings | None,
    decision: PromotionDecision,
) -> None:
    """Record ``decision`` in ``name``'s history and, when it promotes, swap champion and
    challenger (the registry function ``models decide --auto-promote`` uses) and announce
    the new state on ``announce``'s control topic, so that running services swap (``None``:
    not announced; they pick the move up at their next start)."""
    verdict = "promote" if decision.promote else "decline"
    record_decision(
        forecasting_dir,
        name,
        champion=champion,
        challenger=challenger,
        promote_challenger=decision.promote,
        decision=decision.as_dict(),
        why=f"{verdict}: {decision.headline()}",
        who=WHO,
    )
    if decision.promote and announce is not None:
        try:
            publish_alias_state(announce, alias_state(forecasting_dir, name, who=WHO))
        except KafkaError as exc:
            # The files moved (they are the truth); running services just did not hear it.
            logger.warning(
                "%s promoted on disk but not announced on %s (%s): run `wxstream models "
                "publish %s`",
                name,
                announce.control_topic,
                exc,
                name,
            )


Mover = Callable[[PromotionDecision], object]


class AutoPromoter:
    """Decides on the live pairs (see the module docstring); feed it every batch's new
    records (:attr:`ServiceSkill.on_pairs <wxstream.streaming.live_skill.ServiceSkill>`).

    Args:
        live: the live skill (kept with ``keep_records``: the test needs the pairs).
        model_name: the registry name.
        champion, challenger: the versions served.
        move: records a decision (and moves the aliases on a promotion).
        rules: the promotion rules (``min_pairs_per_lead`` is N).
    """

    def __init__(
        self,
        live: LiveSkill,
        *,
        model_name: str,
        champion: str,
        challenger: str,
        move: Mover,
        rules: PromotionRules | None = None,
    ) -> None:
        self.live = live
        self.model_name = model_name
        self.champion = champion
        self.challenger = challenger
        self.move = move
        self.rules = rules or PromotionRules()
        self._counted_at: dict[int, int] = {}
        self.decisions: list[PromotionDecision] = []
        self.promoted = False

    def _challenger_counts(self) -> dict[int, int]:
        return {
            key.lead_h: lead.count
            for key, lead in self.live.table.figures().items()
            if key.model_name == self.model_name and key.model_version == self.challenger
        }

    def due(self) -> bool:
        """Whether every lead has N pairs, and N new ones since the last decision."""
        if self.promoted:
            return False
        counts = self._challenger_counts()
        n = self.rules.min_pairs_per_lead
        return bool(counts) and all(
            count - self._counted_at.get(lead, 0) >= n for lead, count in counts.items()
        )

    def __call__(self, _records: Sequence[SkillRecord]) -> PromotionDecision | None:
        """Decide when :meth:`due`; the decision, or ``None``."""
        if not self.due():
            return None
        self._counted_at = self._challenger_counts()
        decision = decide_versions(
            records_frame(self.live.records),
            (self.model_name, self.champion),
            (self.model_name, self.challenger),
            self.rules,
        )
        self.decisions.append(decision)
        logger.info(
            "%s: %s %s vs champion %s: %s",
            self.model_name,
            "PROMOTE" if decision.promote else "decline",
            self.challenger,
            self.champion,
            decision.headline(),
        )
        try:
            self.move(decision)
        except AliasMoveError as exc:
            # Someone moved the aliases meanwhile: the versions decided on are history.
            logger.warning("%s; deciding stops until the service restarts", exc)
            self.promoted = True
            return decision
        self.promoted = decision.promote
        return decision
