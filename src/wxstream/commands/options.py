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
