"""``wxstream models list|show|import-keras`` (and the version commands of
``model_versions_cmd``): the models under $MODEL_STORAGE_PATH."""

from __future__ import annotations

import json
from pathlib import Path

import click

from wxstream.commands import model_decide_cmd
from wxstream.commands.model_versions_cmd import COMMANDS, mae_cell
from wxstream.commands.options import model_storage_option
from wxstream.settings import ModelSettings


@click.group()
def models() -> None:
    """Inspect the forecasting models under $MODEL_STORAGE_PATH/trained/forecasting,
    and move their champion/challenger aliases."""


for _command in (*COMMANDS, *model_decide_cmd.COMMANDS):
    models.add_command(_command)


@models.command("list")
@model_storage_option
def list_cmd(model_storage_path: Path) -> None:
    """List model directories, oldest first (the newest is the default for serving)."""
    from wxstream.models.model_loader import list_models

    model_settings = ModelSettings(storage_path=model_storage_path)
    entries = list_models(model_settings.forecasting_dir)
    if not entries:
        click.echo(f"no models under {model_settings.forecasting_dir}")
        click.echo(
            "train one with `wxstream train` or import one with `wxstream models import-keras DIR`"
        )
        return
    header = (
        f"{'NAME':<28} {'CREATED':<26} {'LOOKBACK':>8} {'HORIZON':>7} "
        f"{'VAL MAE@1h':>10} {'SOURCES'}"
    )
    click.echo(header)
    for entry in entries:
        meta = entry.metadata
        if meta is None:
            click.echo(f"{entry.name:<28} unreadable: {entry.problem}")
            continue
        sources = ",".join(meta.get("data", {}).get("sources", [])) or "-"
        click.echo(
            f"{entry.name:<28} {entry.created:<26} {meta.get('lookback', '-'):>8} "
            f"{meta.get('horizon', '-'):>7} {mae_cell(meta, 'validation', 1):>10} {sources}"
        )


@models.command("show")
@click.argument("name", required=False)
@model_storage_option
@click.option("--json", "as_json", is_flag=True, help="Print the whole metadata.json.")
def show(name: str | None, model_storage_path: Path, as_json: bool) -> None:
    """Check and describe model NAME, NAME@VERSION or NAME@ALIAS (default: the newest)."""
    from wxstream.models.model_dir import read_model_dir
    from wxstream.models.model_loader import resolve_model_dir

    path = resolve_model_dir(ModelSettings(storage_path=model_storage_path, model_name=name))
    bundle = read_model_dir(path)
    meta = bundle.metadata
    if as_json:
        click.echo(json.dumps(meta, indent=2))
        return
    net = meta["network"]
    data = meta.get("data", {})
    lines = [
        ("name", meta["name"]),
        ("path", str(path)),
        ("version id", path.name if path.parent.name == "versions" else "legacy"),
        ("version", meta["version"]),
        ("created", meta["created"]),
        ("lookback / horizon", f"{meta['lookback']} h / {meta['horizon']} h"),
        ("quantiles", ", ".join(str(q) for q in meta["quantiles"])),
        ("inputs", ", ".join(meta["features"])),
        ("target", f"{meta['target']} ({meta['target_mode']})"),
        (
            "network",
            f"{net['num_layers']} x LSTM({net['hidden_size']}) -> linear "
            f"{net['horizon']} x {net['n_quantiles']}",
        ),
        ("sources", ", ".join(data.get("sources", [])) or "-"),
    ]
    for part in ("train", "validation", "test"):
        rng = data.get(part)
        if isinstance(rng, dict) and rng.get("start"):
            lines.append((part, f"{rng['start']} .. {rng['end']} ({rng.get('samples')} samples)"))
    for split in ("validation", "test"):
        if meta.get("metrics", {}).get(split):
            maes = "  ".join(
                f"{h} h: {mae_cell(meta, split, h)}" for h in (1, 6, 24) if h <= meta["horizon"]
            )
            lines.append((f"{split} MAE (degC)", maes))
    for key, value in lines:
        click.echo(f"{key:<22}{value}")


@models.command("import-keras")
@click.argument(
    "source_dir", metavar="DIR", type=click.Path(path_type=Path, exists=True, file_okay=False)
)
@model_storage_option
@click.option("--name", default=None, help="New model name; default: KERAS_<original name>.")
@click.option(
    "--trust-pickles",
    is_flag=True,
    # Never from the environment: trusting pickles must be said on the command line.
    allow_from_autoenv=False,
    help="Read DIR's .pkl files (loading a pickle can run code; only scikit-learn scalers "
    "and plain data are admitted). Only for directories from a source you trust.",
)
@click.option(
    "--input",
    "input_maps",
    multiple=True,
    metavar="NAME=FIELD:UNIT",
    help="Map an original input to a message field and unit, e.g. "
    "temp=avg_temperature:degF (repeatable).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing model of that name.")
def import_keras(
    *,
    source_dir: Path,
    model_storage_path: Path,
    name: str | None,
    trust_pickles: bool,
    input_maps: tuple[str, ...],
    overwrite: bool,
) -> None:
    """Import DIR, a model of the original format (Keras .h5 + pickled scalers).

    DIR holds model.h5, scaler_X.pkl, scaler_y.pkl, feature_adapter.pkl and
    metadata.json; it becomes a wxstream model directory.

    The Keras model is a point forecast: the imported model reports it as p50 with
    p10 = p50 = p90 (metadata "interval": "none"). See docs/migration.md.
    """
    from wxstream.models.keras_import import import_keras_dir, parse_input_override

    overrides = dict(parse_input_override(text) for text in input_maps)
    result = import_keras_dir(
        source_dir,
        ModelSettings(storage_path=model_storage_path).forecasting_dir,
        name=name,
        trust_pickles=trust_pickles,
        overwrite=overwrite,
        input_overrides=overrides,
    )
    meta = result.bundle.metadata
    click.echo(f"imported {source_dir} as {result.name}")
    click.echo(f"  path      {result.path}")
    click.echo(f"  inputs    {', '.join(meta['features'])} (lookback {meta['lookback']} h)")
    click.echo(f"  forecast  {meta['target']}, leads 1..{meta['horizon']} h")
    click.echo("  interval  none: a point forecast, p10 = p50 = p90")
