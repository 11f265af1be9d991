"""``wxstream models skill|decide``: live skill of a model's versions, read from a
running pipeline's topics, and the promotion decision it supports."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from wxstream import settings
from wxstream.commands.model_publish_cmd import announce, control_topic_option
from wxstream.commands.model_versions_cmd import current_user
from wxstream.commands.options import (
    bootstrap_servers_option,
    features_topic_option,
    kafka_client_options,
    model_storage_option,
    predictions_topic_option,
    shadow_topic_option,
)

F = TypeVar("F", bound=Callable[..., Any])


def _reading_options(func: F) -> F:
    """The topics read and how long reading them may take."""
    # Applied innermost first: reversed, so --help lists them in this order.
    for decorate in reversed(
        (
            bootstrap_servers_option,
            kafka_client_options,
            predictions_topic_option,
            shadow_topic_option,
            features_topic_option,
            model_storage_option,
            click.option(
                "--timeout-s",
                envvar="WXSTREAM_READ_TIMEOUT_S",
                show_envvar=True,
                type=click.FloatRange(min=0.001),
                default=120.0,
                show_default=True,
                help="Longest time reading the topics to their ends.",
            ),
            click.option(
                "--slack-h",
                envvar="WXSTREAM_SKILL_SLACK_H",
                show_envvar=True,
                type=click.IntRange(min=0),
                default=6,
                show_default=True,
                help="Hours after its valid hour an observation may arrive and still count.",
            ),
            click.option(
                "--json", "as_json", is_flag=True, help="Print one JSON object instead of a table."
            ),
        )
    ):
        func = decorate(func)
    return func


def _skill_settings(name: str, kwargs: dict[str, Any]) -> settings.ModelSkillSettings:
    return settings.ModelSkillSettings(
        kafka=settings.KafkaSettings(
            bootstrap_servers=kwargs["bootstrap_servers"],
            client_properties=kwargs["client_properties"],
            predictions_topic=kwargs["predictions_topic"],
            shadow_topic=kwargs["shadow_topic"],
            features_topic=kwargs["features_topic"],
            control_topic=kwargs.get("control_topic") or settings.CONTROL_TOPIC,
        ),
        model_name=name,
        verification_topic=kwargs.get("verification_topic") or settings.VERIFICATION_TOPIC,
        timeout_s=kwargs["timeout_s"],
        slack_h=kwargs["slack_h"],
    )


def _aliases(model_storage_path: Path, name: str) -> dict[str, str]:
    """Alias -> version of ``name`` in the store (empty when the store lacks it)."""
    from wxstream.errors import ModelError
    from wxstream.models.registry import read_aliases
    from wxstream.models.registry.layout import name_dir_of

    forecasting = settings.ModelSettings(storage_path=model_storage_path).forecasting_dir
    try:
        return dict(read_aliases(name_dir_of(forecasting, name)))
    except (ModelError, OSError):
        return {}


def _read(skill_settings: settings.ModelSkillSettings) -> Any:
    from wxstream.ops.model_skill import read_model_skill

    read = read_model_skill(skill_settings)
    if not read.complete:
        click.echo(
            f"warning: stopped reading after {skill_settings.timeout_s:.0f} s before every "
            "partition was read to its end; the figures cover what was read",
            err=True,
        )
    return read


def _summary(read: Any) -> dict[str, Any]:
    return {
        "forecasts": read.forecasts,
        "observations": read.observations,
        "paired": len(read.skill.records),
        "pending": read.skill.pending,
        "evicted": read.skill.evicted,
        "skipped": read.skipped,
        "complete": read.complete,
    }


@click.command("skill")
@click.argument("name")
@_reading_options
@click.option(
    "--publish",
    is_flag=True,
    envvar="WXSTREAM_PUBLISH_SKILL",
    show_envvar=True,
    help="Also write each paired forecast to the verification topic.",
)
@click.option(
    "--verification-topic",
    envvar="WXSTREAM_VERIFICATION_TOPIC",
    show_envvar=True,
    default=settings.VERIFICATION_TOPIC,
    show_default=True,
    help="Topic --publish writes to (created when missing).",
)
def skill(name: str, **kwargs: Any) -> None:
    """Live skill of model NAME's versions: every forecast on the predictions and shadow
    topics paired with the observation that arrived later on the features topic.

    Per version and lead: paired count, MAE of p50, mean pinball loss of p10/p50/p90
    and 80 % interval (p10-p90) coverage, all in degC but the coverage.
    """
    show_skill(
        _skill_settings(name, kwargs),
        kwargs["model_storage_path"],
        publish=kwargs["publish"],
        as_json=kwargs["as_json"],
    )


def show_skill(
    skill_settings: settings.ModelSkillSettings,
    model_storage_path: Path,
    *,
    publish: bool = False,
    as_json: bool = False,
) -> None:
    """Read and print the skill table of ``skill_settings.model_name`` (``models skill``)."""
    name = skill_settings.model_name
    read = _read(skill_settings)
    aliases = {v: a for a, v in _aliases(model_storage_path, name).items()}
    figures = read.skill.table.figures()
    published = None
    if publish:
        from wxstream.ops.model_skill import publish_skill

        published = publish_skill(skill_settings, read.skill.records)
    if as_json:
        rows = [
            {
                "model_name": key.model_name,
                "model_version": key.model_version,
                "alias": aliases.get(key.model_version),
                "lead_h": key.lead_h,
                "count": cell.count,
                "mae_c": cell.mae_c,
                "pinball_c": cell.pinball_c,
                "coverage": cell.coverage,
            }
            for key, cell in figures.items()
        ]
        out = {"model_name": name, **_summary(read), "published": published, "skill": rows}
        click.echo(json.dumps(out, sort_keys=True))
        return
    if not figures:
        click.echo(f"no forecast of {name} paired with an observation yet ({_summary(read)})")
        return
    click.echo(
        f"{'VERSION':<14} {'ALIAS':<11} {'LEAD':>4} {'COUNT':>7} {'MAE':>7} "
        f"{'PINBALL':>8} {'COVER80':>8}"
    )
    for key, cell in figures.items():
        click.echo(
            f"{key.model_version:<14} {aliases.get(key.model_version, '-'):<11} "
            f"{key.lead_h:>4} {cell.count:>7} {cell.mae_c:>7.3f} {cell.pinball_c:>8.3f} "
            f"{cell.coverage:>8.1%}"
        )
    s = _summary(read)
    click.echo(
        f"{s['paired']} paired forecast leads; {s['pending']} waiting for their hour, "
        f"{s['evicted']} never observed in time"
        + (f"; {published} written to {skill_settings.verification_topic}" if published else "")
    )


@click.command("decide")
@click.argument("name")
@_reading_options
@control_topic_option
@click.option(
    "--auto-promote",
    is_flag=True,
    envvar="WXSTREAM_AUTO_PROMOTE",
    show_envvar=True,
    help="When the rules say promote, make the challenger the champion (and the old "
    "champion the challenger). Off: the decision is only recorded.",
)
@click.option(
    "--min-pairs",
    envvar="WXSTREAM_MIN_PAIRS",
    show_envvar=True,
    type=click.IntRange(min=2),
    default=None,
    help="Paired forecasts needed at every lead  [default: 2000, docs/model-versions.md].",
)
@click.option(
    "--alpha",
    envvar="WXSTREAM_PROMOTION_ALPHA",
    show_envvar=True,
    type=click.FloatRange(min=0.0, max=1.0, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
    help="Significance level of the one-sided Diebold-Mariano test.",
)
@click.option(
    "--who",
    envvar="WXSTREAM_WHO",
    show_envvar=True,
    default=None,
    help="Name recorded in the history; default: the OS user.",
)
def decide(
    name: str,
    auto_promote: bool,
    min_pairs: int | None,
    alpha: float,
    who: str | None,
    **kwargs: Any,
) -> None:
    """Decide whether model NAME's challenger replaces its champion, on the forecasts
    both made (the predictions and shadow topics) scored against what was observed.

    The rules (docs/model-versions.md, "Deciding a promotion"): enough pairs at every
    lead, challenger better overall by a Diebold-Mariano test, no lead's MAE worse by
    more than 2 %, challenger coverage within 75-85 %. Every decision, made or
    declined, is appended to NAME's history with its figures.
    """
    decide_and_record(
        _skill_settings(name, kwargs),
        kwargs["model_storage_path"],
        auto_promote=auto_promote,
        min_pairs=min_pairs,
        alpha=alpha,
        who=who,
        as_json=kwargs["as_json"],
    )


def decide_and_record(
    skill_settings: settings.ModelSkillSettings,
    model_storage_path: Path,
    *,
    auto_promote: bool = False,
    min_pairs: int | None = None,
    alpha: float = 0.05,
    who: str | None = None,
    as_json: bool = False,
) -> None:
    """Decide on ``skill_settings.model_name``'s challenger, append the decision to its
    history and print it (``models decide``)."""
    from wxstream.errors import AliasMoveError
    from wxstream.models.registry import CHALLENGER, CHAMPION, record_decision
    from wxstream.rollout import (
        DEFAULT_MIN_PAIRS,
        PromotionRules,
        decide_versions,
        records_frame,
    )

    name = skill_settings.model_name
    aliases = _aliases(model_storage_path, name)
    if CHAMPION not in aliases or CHALLENGER not in aliases:
        raise AliasMoveError(
            f"model {name!r} needs a champion and a challenger to decide between "
            f"(aliases: {aliases or 'none'})",
            fix=f"wxstream models promote {name} VERSION --alias challenger --why TEXT",
        )
    champion, challenger = aliases[CHAMPION], aliases[CHALLENGER]
    read = _read(skill_settings)
    rules = PromotionRules(
        alpha=alpha, min_pairs_per_lead=DEFAULT_MIN_PAIRS if min_pairs is None else min_pairs
    )
    decision = decide_versions(
        records_frame(read.skill.records), (name, champion), (name, challenger), rules
    )
    figures = {**decision.as_dict(), "read": _summary(read)}
    verdict = "promote" if decision.promote else "decline"
    forecasting_dir = settings.ModelSettings(storage_path=model_storage_path).forecasting_dir
    moves = record_decision(
        forecasting_dir,
        name,
        champion=champion,
        challenger=challenger,
        promote_challenger=auto_promote and decision.promote,
        decision=figures,
        why=f"{verdict}: {decision.headline()}",
        who=who or current_user(),
    )
    if moves[1:]:  # running services swap to the new champion (hot swap)
        announce(
            skill_settings.kafka, forecasting_dir, name, who=who or current_user(), quiet=as_json
        )
    if as_json:
        out = {**figures, "moves": [m.to_json() for m in moves[1:]]}
        click.echo(json.dumps(out, sort_keys=True))
        return
    click.echo(f"{name}: champion {champion}, challenger {challenger}: {verdict.upper()}")
    for reason in decision.reasons:
        click.echo(f"  - {reason}")
    leads = decision.figures.get("leads", {})
    if leads:
        click.echo(f"  {'LEAD':>4} {'PAIRS':>6} {'MAE CHAMP':>9} {'MAE CHALL':>9} {'CHANGE':>7}")
        for lead, cell in leads.items():
            click.echo(
                f"  {lead:>4} {cell['n']:>6} {cell['mae_champion_c']:>9.3f} "
                f"{cell['mae_challenger_c']:>9.3f} {cell['mae_change']:>+7.1%}"
            )
    for move in moves[1:]:
        click.echo(f"{name}: {move.alias} {move.from_version or '-'} -> {move.to_version}")
    if decision.promote and not auto_promote:
        click.echo(
            f"not moved (no --auto-promote): wxstream models promote {name} {challenger} "
            '--why "..." makes it the champion'
        )
    click.echo(f"recorded in the history of {name} (wxstream models history {name})")


COMMANDS: tuple[click.Command, ...] = (skill, decide)
