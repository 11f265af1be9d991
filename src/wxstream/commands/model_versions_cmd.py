"""``wxstream models versions|promote|rollback|history``: the versions of one model name."""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from wxstream.commands.model_publish_cmd import announce, announce_options, publish
from wxstream.commands.options import model_storage_option
from wxstream.settings import KafkaSettings, ModelSettings

F = TypeVar("F", bound=Callable[..., Any])


def current_user() -> str:
    """The OS user, recorded as ``who`` when ``--who`` is not given."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return "unknown"


def mae_cell(metadata: dict[str, Any], split: str, lead: int) -> str:
    """The recorded MAE at ``lead`` hours for ``split``, formatted ('-' when absent)."""
    value = metadata.get("metrics", {}).get(split, {}).get("mae_by_lead", {}).get(str(lead))
    return "-" if value is None else f"{float(value):.3f}"


def _who_option(func: F) -> F:
    return click.option(
        "--who",
        envvar="WXSTREAM_WHO",
        show_envvar=True,
        default=None,
        help="Name recorded in the history; default: the OS user.",
    )(func)


def _why_option(*, required: bool) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        # Only the optional form has a default: click counts even ``default=None`` as a
        # value given, which would satisfy ``required``.
        extra: dict[str, Any] = {"required": True} if required else {"default": "rollback"}
        return click.option(
            "--why",
            # A reason belongs to one move: never taken from the environment.
            allow_from_autoenv=False,
            help="Why the alias moves (kept in the history).",
            **extra,
        )(func)

    return decorate


def _forecasting_dir(model_storage_path: Path) -> Path:
    return ModelSettings(storage_path=model_storage_path).forecasting_dir


@click.command("versions")
@click.argument("name")
@model_storage_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per version.")
def versions(name: str, model_storage_path: Path, as_json: bool) -> None:
    """List the versions of model NAME, oldest first, with their aliases."""
    from wxstream.models.registry import list_versions

    found = list_versions(_forecasting_dir(model_storage_path), name)
    if as_json:
        for info in found:
            row = {
                "version": info.version,
                "created": info.created,
                "aliases": list(info.aliases),
                "path": str(info.path),
                "problem": info.problem,
            }
            click.echo(json.dumps(row))
        return
    click.echo(f"{'VERSION':<14} {'CREATED':<28} {'ALIASES':<20} {'VAL MAE@1h':>10}")
    for info in found:
        aliases = ",".join(info.aliases) or "-"
        if info.metadata is None:
            click.echo(f"{info.version:<14} unreadable: {info.problem}")
            continue
        mae = mae_cell(info.metadata, "validation", 1)
        click.echo(f"{info.version:<14} {info.created:<28} {aliases:<20} {mae:>10}")


@click.command("promote")
@click.argument("name")
@click.argument("version")
@model_storage_option
@click.option(
    "--alias",
    type=click.Choice(["champion", "challenger"]),
    default="champion",
    show_default=True,
    help="The alias to point at VERSION.",
)
@_why_option(required=True)
@_who_option
@announce_options
def promote(
    *,
    name: str,
    version: str,
    model_storage_path: Path,
    alias: str,
    why: str,
    who: str | None,
    kafka: KafkaSettings | None,
) -> None:
    """Point an alias of model NAME at VERSION (a new `serve` uses the champion; with
    --bootstrap-servers running services swap to it)."""
    from wxstream.models.registry import promote as promote_version

    who = who or current_user()
    root = _forecasting_dir(model_storage_path)
    move = promote_version(root, name, version, alias=alias, why=why, who=who)
    click.echo(f"{name}: {alias} {move.from_version or '-'} -> {move.to_version}")
    announce(kafka, root, name, who=who)


@click.command("rollback")
@click.argument("name")
@model_storage_option
@_why_option(required=False)
@_who_option
@announce_options
def rollback(
    name: str, model_storage_path: Path, why: str, who: str | None, kafka: KafkaSettings | None
) -> None:
    """Point the champion of model NAME back at the champion before it (with
    --bootstrap-servers running services swap back at once)."""
    from wxstream.models.registry import rollback as rollback_champion

    who = who or current_user()
    root = _forecasting_dir(model_storage_path)
    move = rollback_champion(root, name, why=why, who=who)
    click.echo(f"{name}: champion {move.from_version or '-'} -> {move.to_version}")
    announce(kafka, root, name, who=who)


@click.command("history")
@click.argument("name")
@model_storage_option
@click.option("--json", "as_json", is_flag=True, help="The history lines as stored (JSON).")
def history(name: str, model_storage_path: Path, as_json: bool) -> None:
    """Every alias move of model NAME, oldest first."""
    from wxstream.models.registry import read_history

    moves = read_history(_forecasting_dir(model_storage_path), name)
    if as_json:
        for move in moves:
            click.echo(json.dumps(move.to_json(), sort_keys=True))
        return
    if not moves:
        click.echo(f"no alias moves recorded for {name}")
        return
    click.echo(f"{'AT':<21} {'WHO':<12} {'ACTION':<9} {'ALIAS':<11} {'FROM':<13} {'TO':<13} WHY")
    for m in moves:
        click.echo(
            f"{m.at:<21} {m.who:<12} {m.action:<9} {m.alias:<11} "
            f"{m.from_version or '-':<13} {m.to_version:<13} {m.why}"
        )


COMMANDS: tuple[click.Command, ...] = (versions, promote, rollback, history, publish)
