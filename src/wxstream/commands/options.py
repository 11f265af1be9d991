"""Reusable click options. Each names its environment variable in ``--help``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import click
from click.core import ParameterSource

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
        help="Model under trained/forecasting/: NAME (its champion), NAME@VERSION or "
        "NAME@champion|challenger; default: the newest.",
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


def anomalies_topic_option(func: F) -> F:
    """``--anomalies-topic`` / ``WXSTREAM_ANOMALIES_TOPIC``."""
    return click.option(
        "--anomalies-topic",
        envvar="WXSTREAM_ANOMALIES_TOPIC",
        show_envvar=True,
        default=settings.ANOMALIES_TOPIC,
        show_default=True,
        help="Topic of quality-check findings on the feature stream.",
    )(func)


def shadow_topic_option(func: F) -> F:
    """``--shadow-topic`` / ``WXSTREAM_SHADOW_TOPIC``."""
    return click.option(
        "--shadow-topic",
        envvar="WXSTREAM_SHADOW_TOPIC",
        show_envvar=True,
        default=settings.SHADOW_TOPIC,
        show_default=True,
        help="Topic of the second version's forecast of every window (when the model "
        "name has a challenger), written in the same transaction as the forecasts.",
    )(func)


def verification_topic_option(func: F) -> F:
    """``--verification-topic`` / ``WXSTREAM_VERIFICATION_TOPIC``."""
    return click.option(
        "--verification-topic",
        envvar="WXSTREAM_VERIFICATION_TOPIC",
        show_envvar=True,
        default=settings.VERIFICATION_TOPIC,
        show_default=True,
        help="Topic of forecasts paired with what was later observed (live skill).",
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


# (parameter, environment variable, help) of the TLS / SASL flags; each sets the
# librdkafka property named in client_properties.ENV_PROPERTIES.
_SECURITY_FLAGS: tuple[tuple[str, str, str], ...] = (
    (
        "--security-protocol",
        "KAFKA_SECURITY_PROTOCOL",
        "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (librdkafka security.protocol); "
        "default: PLAINTEXT.",
    ),
    (
        "--sasl-mechanism",
        "KAFKA_SASL_MECHANISM",
        "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER (sasl.mechanism).",
    ),
    ("--sasl-username", "KAFKA_SASL_USERNAME", "SASL user name (sasl.username)."),
    (
        "--sasl-password",
        "KAFKA_SASL_PASSWORD",
        "SASL password (sasl.password); prefer the variable or --kafka-config, a flag "
        "shows in the process list. Never logged or printed.",
    ),
    (
        "--ssl-ca-location",
        "KAFKA_SSL_CA_LOCATION",
        "PEM file of the CA that signed the brokers' certificates (ssl.ca.location); "
        "default: the system's trust store.",
    ),
    (
        "--ssl-certificate-location",
        "KAFKA_SSL_CERTIFICATE_LOCATION",
        "PEM client certificate for mutual TLS (ssl.certificate.location).",
    ),
    (
        "--ssl-key-location",
        "KAFKA_SSL_KEY_LOCATION",
        "PEM private key of the client certificate (ssl.key.location).",
    ),
    (
        "--ssl-key-password",
        "KAFKA_SSL_KEY_PASSWORD",
        "Password of the private key (ssl.key.password). Never logged or printed.",
    ),
)


def kafka_client_options(func: F) -> F:
    """``--kafka-config`` / ``KAFKA_CONFIG`` and the TLS / SASL flags of every command
    that talks to Kafka. The command receives them as one keyword argument,
    ``client_properties`` (for :attr:`KafkaSettings.client_properties`); a
    ``bootstrap.servers`` in the file is used when ``--bootstrap-servers`` was not given.
    """
    from wxstream.kafka.client_properties import (
        bootstrap_from_file,
        client_properties,
        read_properties_file,
    )

    names = [(flag[2:].replace("-", "_"), variable) for flag, variable, _ in _SECURITY_FLAGS]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        config_path: Path | None = kwargs.pop("kafka_config")
        variables = {variable: kwargs.pop(name) for name, variable in names}
        pairs = read_properties_file(config_path) if config_path is not None else []
        source = str(config_path) if config_path is not None else "Kafka client settings"
        kwargs["client_properties"] = client_properties(pairs, variables, source=source)
        file_servers = bootstrap_from_file(pairs)
        context = click.get_current_context()
        if (
            file_servers
            and "bootstrap_servers" in kwargs
            and context.get_parameter_source("bootstrap_servers") in (ParameterSource.DEFAULT, None)
        ):
            kwargs["bootstrap_servers"] = file_servers
        return func(*args, **kwargs)

    decorated: Callable[..., Any] = wrapper
    for flag, variable, text in reversed(_SECURITY_FLAGS):
        decorated = click.option(flag, envvar=variable, show_envvar=True, default=None, help=text)(
            decorated
        )
    decorated = click.option(
        "--kafka-config",
        envvar="KAFKA_CONFIG",
        show_envvar=True,
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="Kafka client properties file (key=value, as Kafka's own clients use: "
        "security.protocol, sasl.*, ssl.*, ...), passed to librdkafka; the flags below "
        "override it. See docs/security.md.",
    )(decorated)
    return cast(F, decorated)


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


def parse_inputs(text: str) -> tuple[str, ...]:
    """``"temperature, pressure,humidity"`` -> ``("temperature", "pressure", "humidity")``:
    model input names, comma separated, in model input order, each from the adapter's
    catalogue (``wxstream.features.adapter.input_catalogue``) and given once.

    Raises:
        click.BadParameter: an unknown or repeated name, or none given.
    """
    from wxstream.features.adapter import input_catalogue

    names = tuple(item.strip() for item in text.split(",") if item.strip())
    known = [spec.name for spec in input_catalogue()]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise click.BadParameter(f"unknown input(s) {unknown}; choose among {known}")
    if not names or len(set(names)) != len(names):
        raise click.BadParameter("give each input name once, comma separated")
    return names


class InputsParamType(click.ParamType[tuple[str, ...], "str | tuple[str, ...]"]):
    """Comma-separated model input names (:func:`parse_inputs`)."""

    name = "names"

    def convert(
        self,
        value: str | tuple[str, ...],
        param: click.Parameter | None,
        ctx: click.Context | None,
    ) -> tuple[str, ...]:
        if isinstance(value, tuple):
            return value
        try:
            return parse_inputs(value)
        except click.BadParameter as exc:
            self.fail(exc.message, param, ctx)


INPUTS = InputsParamType()


def model_inputs_option(envvar: str) -> Callable[[F], F]:
    """``--inputs``: replace the preset's model inputs (e.g. for an ablation)."""
    return click.option(
        "--inputs",
        envvar=envvar,
        show_envvar=True,
        type=INPUTS,
        default=None,
        help="Model inputs, comma separated, replacing the preset's (names of "
        "`wxstream.features.adapter.input_catalogue`: temperature, wind_speed, dewpoint, "
        "pressure, humidity, wind_u, wind_v, precipitation, hour/doy and solar_hour/season "
        "sin/cos, ...); the target temperature must be among them.",
    )
