"""Reusable click options. Each names its environment variable in ``--help``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from wxstream import settings

F = TypeVar("F", bound=Callable[..., Any])


def bootstrap_servers_option(func: F) -> F:
    """``--bootstrap-servers`` / ``KAFKA_BOOTSTRAP_SERVERS``."""
    return click.option(
        "--bootstrap-servers",
        envvar="KAFKA_BOOTSTRAP_SERVERS",
        show_envvar=True,
        default=settings.DEFAULT_BOOTSTRAP_SERVERS,
        show_default=True,
        help="Kafka bootstrap servers (host:port[,host:port]); default: the local broker.",
    )(func)


def ray_address_option(func: F) -> F:
    """``--ray-address`` / ``RAY_HEAD_ADDRESS``."""
    return click.option(
        "--ray-address",
        envvar="RAY_HEAD_ADDRESS",
        show_envvar=True,
        default=None,
        help="Ray cluster address (host:port or ray://host:10001); unset: start a local Ray.",
    )(func)


def model_storage_option(func: F) -> F:
    """``--model-storage-path`` / ``MODEL_STORAGE_PATH``."""
    return click.option(
        "--model-storage-path",
        envvar="MODEL_STORAGE_PATH",
        show_envvar=True,
        type=click.Path(path_type=Path),
        default=settings.DEFAULT_MODEL_STORAGE_PATH,
        show_default=True,
        help="Root of the model store; models live under trained/forecasting/<NAME>/.",
    )(func)


def model_name_option(func: F) -> F:
    """``--model-name`` / ``WXSTREAM_MODEL_NAME``."""
    return click.option(
        "--model-name",
        envvar="WXSTREAM_MODEL_NAME",
        show_envvar=True,
        default=None,
        help="Model directory name under trained/forecasting/; default: the newest.",
    )(func)


def data_dir_option(func: F) -> F:
    """``--data-dir`` / ``WXSTREAM_DATA_DIR``."""
    return click.option(
        "--data-dir",
        envvar="WXSTREAM_DATA_DIR",
        show_envvar=True,
        type=click.Path(path_type=Path),
        default=None,
        help="Folder with the shared observation data; default: ../shared/data where it exists.",
    )(func)


def features_topic_option(func: F) -> F:
    """``--features-topic`` / ``WXSTREAM_FEATURES_TOPIC``."""
    return click.option(
        "--features-topic",
        envvar="WXSTREAM_FEATURES_TOPIC",
        show_envvar=True,
        default=settings.FEATURES_TOPIC,
        show_default=True,
        help="Topic of hourly weather features.",
    )(func)


def predictions_topic_option(func: F) -> F:
    """``--predictions-topic`` / ``WXSTREAM_PREDICTIONS_TOPIC``."""
    return click.option(
        "--predictions-topic",
        envvar="WXSTREAM_PREDICTIONS_TOPIC",
        show_envvar=True,
        default=settings.PREDICTIONS_TOPIC,
        show_default=True,
        help="Topic of forecasts.",
    )(func)


def dlq_topic_option(func: F) -> F:
    """``--dlq-topic`` / ``WXSTREAM_DLQ_TOPIC``."""
    return click.option(
        "--dlq-topic",
        envvar="WXSTREAM_DLQ_TOPIC",
        show_envvar=True,
        default=settings.DLQ_TOPIC,
        show_default=True,
        help="Dead-letter topic for records that cannot be used.",
    )(func)


def group_id_option(func: F) -> F:
    """``--group-id`` / ``WXSTREAM_GROUP_ID``."""
    return click.option(
        "--group-id",
        envvar="WXSTREAM_GROUP_ID",
        show_envvar=True,
        default=settings.CONSUMER_GROUP,
        show_default=True,
        help="Consumer group of the inference service.",
    )(func)


def num_actors_option(func: F) -> F:
    """``--num-actors`` / ``WXSTREAM_NUM_ACTORS``."""
    return click.option(
        "--num-actors",
        envvar="WXSTREAM_NUM_ACTORS",
        show_envvar=True,
        type=click.IntRange(1),
        default=2,
        show_default=True,
        help="Inference actors of the service.",
    )(func)


def broker_port_option(name: str = "--port") -> Callable[[F], F]:
    """``--port`` (or ``name``) / ``WXSTREAM_KAFKA_PORT``: the local broker's client port."""
    option: Callable[[F], F] = click.option(
        name,
        envvar="WXSTREAM_KAFKA_PORT",
        show_envvar=True,
        type=click.IntRange(1, 65535),
        default=settings.DEFAULT_BROKER_PORT,
        show_default=True,
        help="Client port of the local broker on 127.0.0.1.",
    )
    return option


def broker_data_dir_option(name: str = "--data-dir") -> Callable[[F], F]:
    """``--data-dir`` (or ``name``) / ``WXSTREAM_KAFKA_DATA_DIR``: the local broker's files."""
    option: Callable[[F], F] = click.option(
        name,
        envvar="WXSTREAM_KAFKA_DATA_DIR",
        show_envvar=True,
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help=f"Broker data, log and pid file; default: {settings.default_broker_dir()}.",
    )
    return option


def parse_leads(text: str) -> tuple[int, ...]:
    """``"24,1,6,6"`` -> ``(1, 6, 24)``: whole hours of at least 1, comma separated,
    duplicates dropped and sorted (blank items, as in ``"1,6,"``, are skipped).

    Raises:
        click.BadParameter: an item is not a whole number, is below 1, or none is given.
    """
    items = [item.strip() for item in text.split(",") if item.strip()]
    leads: set[int] = set()
    for item in items:
        try:
            lead = int(item)
        except ValueError as exc:
            raise click.BadParameter(
                f"{item!r} is not a whole number of hours; give e.g. 1,6,24"
            ) from exc
        if lead < 1:
            raise click.BadParameter(f"{lead} is not a lead: leads are 1 hour or more")
        leads.add(lead)
    if not leads:
        raise click.BadParameter("give one or more leads in hours, e.g. 1,6,24")
    return tuple(sorted(leads))


class LeadsParamType(click.ParamType[tuple[int, ...], "str | tuple[int, ...]"]):
    """Comma-separated forecast leads in hours (:func:`parse_leads`)."""

    name = "hours"

    def convert(
        self,
        value: str | tuple[int, ...],
        param: click.Parameter | None,
        ctx: click.Context | None,
    ) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value  # a default given as leads already
        try:
            return parse_leads(value)
        except click.BadParameter as exc:
            self.fail(exc.message, param, ctx)


LEADS = LeadsParamType()
