"""The live skill as ``wxstream status`` and ``wxstream plot --skill`` show it: the
``weather-verification`` topic read back and summed per model version and lead.

The topic holds one record per paired forecast, written by ``serve --live-skill`` in
the transaction of the forecasts (or by ``models skill --publish``), so summing its
committed records gives the figures the service's own table holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wxstream.errors import TopicMissingError
from wxstream.kafka.topic_reader import read_topics
from wxstream.messages import SkillRecord
from wxstream.messages.verification import decode_verification
from wxstream.rollout.skill import LeadSkill, SkillKey, SkillTable
from wxstream.settings import KafkaSettings


@dataclass(frozen=True)
class VerificationRead:
    """The records of the verification topic, read to its end (``complete``) or not."""

    topic: str
    records: tuple[SkillRecord, ...]
    undecodable: int
    complete: bool


@dataclass(frozen=True)
class SkillReport:
    """Skill per model version and lead, from the verification topic."""

    topic: str
    records: int
    figures: dict[SkillKey, LeadSkill]
    undecodable: int = 0
    complete: bool = True


def read_verification(
    kafka: KafkaSettings, *, timeout_s: float = 30.0, limit: int | None = None
) -> VerificationRead:
    """Every record of ``kafka.verification_topic`` up to its end (``read_committed``).

    Raises:
        TopicMissingError: the topic does not exist.
        KafkaUnavailableError: Kafka does not answer.
    """
    topic = kafka.verification_topic
    read = read_topics(kafka, [topic], timeout_s=timeout_s, limit=limit)
    records: list[SkillRecord] = []
    bad = 0
    for message in read.records:
        record = decode_verification(message.value())
        if isinstance(record, SkillRecord):
            records.append(record)
        else:
            bad += 1
    return VerificationRead(topic, tuple(records), bad, read.complete)


def skill_report(read: VerificationRead) -> SkillReport:
    """The records summed per version and lead."""
    table = SkillTable()
    table.add_all(read.records)
    return SkillReport(
        read.topic, len(read.records), table.figures(), read.undecodable, read.complete
    )


def probe_skill(
    kafka: KafkaSettings, *, timeout_s: float, limit: int | None = None
) -> SkillReport | None:
    """The report, or ``None`` where there is no verification topic (live skill off)."""
    try:
        return skill_report(read_verification(kafka, timeout_s=timeout_s, limit=limit))
    except TopicMissingError:
        return None


def skill_status_lines(report: SkillReport) -> list[str]:
    """The ``wxstream status`` section: one line per version and lead."""
    more = "" if report.complete else "+ (counting stopped early)"
    bad = f"; {report.undecodable} undecodable" if report.undecodable else ""
    lines = [f"skill     {report.topic}: {report.records}{more} paired forecast(s){bad}"]
    if not report.figures:
        return lines
    lines.append(
        f"          {'MODEL':<12} {'VERSION':<14} {'LEAD':>4} {'PAIRS':>7} "
        f"{'MAE':>6} {'PINBALL':>7} {'COVER':>6}"
    )
    for key, cell in report.figures.items():
        lines.append(
            f"          {key.model_name:<12} {key.model_version:<14} {key.lead_h:>3}h "
            f"{cell.count:>7} {cell.mae_c:>6.3f} {cell.pinball_c:>7.3f} {cell.coverage:>6.1%}"
        )
    return lines


def skill_json(report: SkillReport) -> dict[str, Any]:
    """The section as plain data (``wxstream status --json``)."""
    return {
        "topic": report.topic,
        "records": report.records,
        "undecodable": report.undecodable,
        "complete": report.complete,
        "figures": [
            {
                "model_name": key.model_name,
                "model_version": key.model_version,
                "lead_h": key.lead_h,
                "count": cell.count,
                "mae_c": cell.mae_c,
                "pinball_c": cell.pinball_c,
                "coverage": cell.coverage,
            }
            for key, cell in report.figures.items()
        ],
    }
