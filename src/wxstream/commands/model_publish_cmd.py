"""``wxstream models publish NAME`` and the Kafka options with which ``promote`` and
``rollback`` announce a move on the control topic, so that running services swap."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from wxstream import settings
from wxstream.commands.options import kafka_client_options, model_storage_option

F = TypeVar("F", bound=Callable[..., Any])


def control_topic_option(func: F) -> F:
    """``--control-topic`` / ``WXSTREAM_CONTROL_TOPIC``."""
    return click.option(
        "--control-topic",
        envvar="WXSTREAM_CONTROL_TOPIC",
        show_envvar=True,
        default=settings.CONTROL_TOPIC,
        show_default=True,
        help="Compacted topic of the model names' alias states: `models promote|rollback|"
        "publish` write it, a running `serve` follows it and swaps versions live.",
    )(func)


def announce_options(func: F) -> F:
    """``--bootstrap-servers`` (no default: unset, nothing is published),
    ``--control-topic`` and the Kafka client flags. The command receives one keyword
    argument, ``kafka`` (``None``: do not publish)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        servers: str | None = kwargs.pop("bootstrap_servers")
        topic: str = kwargs.pop("control_topic")
        properties = kwargs.pop("client_properties")
        kwargs["kafka"] = (
            None
            if servers is None
            else settings.KafkaSettings(
                bootstrap_servers=servers, control_topic=topic, client_properties=properties
            )
        )
        return func(*args, **kwargs)

    decorated: Callable[..., Any] = kafka_client_options(wrapper)
    decorated = control_topic_option(decorated)
    decorated = click.option(
        "--bootstrap-servers",
        envvar="KAFKA_BOOTSTRAP_SERVERS",
        show_envvar=True,
        default=None,
        help="Kafka bootstrap servers: announce the new alias state on the control topic, "
        "so that running services swap to it; unset: only the files change (a service "
        "picks the move up at its next start).",
    )(decorated)
    return cast(F, decorated)


def announce(
    kafka: settings.KafkaSettings | None,
    forecasting_dir: Path,
    name: str,
    *,
    who: str,
    quiet: bool = False,
) -> None:
    """Publish ``name``'s alias state as it is on disk now (nothing without ``kafka``;
    ``quiet``: no line on stdout, for commands that print JSON)."""
    if kafka is None:
        return
    from wxstream.errors import KafkaError
    from wxstream.kafka.control_topic import publish_alias_state
    from wxstream.models.registry.state import alias_state

    state = alias_state(forecasting_dir, name, who=who)
    try:
        publish_alias_state(kafka, state)
    except KafkaError as exc:
        # The files moved (they are the truth); running services just did not hear it.
        raise KafkaError(
            f"{name}'s aliases are set on disk but were not announced on "
            f"{kafka.control_topic}: {exc.message}",
            fix=(f"{exc.fix}; then run " if exc.fix else "run ")
            + f"`wxstream models publish {name}` (running services swap then; a service "
            "started later reads the files anyway)",
        ) from exc
    if quiet:
        return
    click.echo(
        f"published to {kafka.control_topic}: {name} champion {state.champion}, "
        f"challenger {state.challenger or '-'} (sequence {state.sequence})"
    )


@click.command("publish")
@click.argument("name")
@model_storage_option
@announce_options
def publish(name: str, model_storage_path: Path, kafka: settings.KafkaSettings | None) -> None:
    """Announce model NAME's aliases as they are on disk on the control topic (after a
    move made without Kafka, or to repair a topic)."""
    from wxstream.commands.model_versions_cmd import current_user

    forecasting_dir = settings.ModelSettings(storage_path=model_storage_path).forecasting_dir
    if kafka is None:
        kafka = settings.KafkaSettings()
    announce(kafka, forecasting_dir, name, who=current_user())


def follow_options(func: F) -> F:
    """``--control-topic`` and ``--follow-alias-moves/--no-follow-alias-moves`` of
    ``serve``; the command receives them as one keyword argument, ``alias_moves``
    (the control topic, or ``None`` when moves are not followed)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        topic: str = kwargs.pop("control_topic")
        follow: bool = kwargs.pop("follow_alias_moves")
        kwargs["alias_moves"] = topic if follow else None
        return func(*args, **kwargs)

    decorated: Callable[..., Any] = control_topic_option(wrapper)
    decorated = click.option(
        "--follow-alias-moves/--no-follow-alias-moves",
        envvar="WXSTREAM_FOLLOW_ALIAS_MOVES",
        show_envvar=True,
        default=True,
        show_default=True,
        help="Swap live to the versions an alias move of the served model name announces "
        "on the control topic (loaded and checked in the background, switched between two "
        "transactions); off, or a pinned NAME@VERSION: the versions of the start serve "
        "throughout.",
    )(decorated)
    return cast(F, decorated)
