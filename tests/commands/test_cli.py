"""The CLI as a whole: every flag of every command names its environment variable."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from wxstream.cli import ENV_PREFIX, cli

# Flags that must be said on the command line on purpose, never taken from the environment.
COMMAND_LINE_ONLY = {
    ("models", "import-keras", "--trust-pickles"),
    # A reason belongs to one alias move.
    ("models", "promote", "--why"),
    ("models", "rollback", "--why"),
}


def _commands(
    group: click.Group, ctx: click.Context, path: tuple[str, ...]
) -> list[tuple[tuple[str, ...], click.Command, click.Context]]:
    found = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        sub_ctx = click.Context(command, parent=ctx, info_name=name)
        if isinstance(command, click.Group):
            found += _commands(command, sub_ctx, (*path, name))
        else:
            found.append(((*path, name), command, sub_ctx))
    return found


def test_every_flag_names_its_environment_variable() -> None:
    root = click.Context(cli, info_name="wxstream", auto_envvar_prefix=ENV_PREFIX)
    missing = []
    commands = _commands(cli, root, ())
    assert len(commands) >= 15
    for path, command, ctx in commands:
        for param in command.params:
            if not isinstance(param, click.Option) or param.name == "help":
                continue
            record = param.get_help_record(ctx)
            assert record is not None
            key = (*path, param.opts[0])
            if key in COMMAND_LINE_ONLY:
                assert "env var" not in record[1], key
            elif "env var" not in record[1]:
                missing.append(" ".join(key))
    assert missing == []


def test_an_option_without_explicit_variable_reads_the_prefixed_one() -> None:
    result = CliRunner().invoke(
        cli,
        ["kafka", "status", "--help"],
        auto_envvar_prefix=ENV_PREFIX,
    )
    assert result.exit_code == 0
    assert "env var:" in result.output


def test_trust_pickles_is_not_taken_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WXSTREAM_MODELS_IMPORT_KERAS_TRUST_PICKLES", "1")
    monkeypatch.setenv("WXSTREAM_MODELS_IMPORT_KERAS_OVERWRITE", "1")
    root = click.Context(cli, info_name="wxstream", auto_envvar_prefix=ENV_PREFIX)
    models = cli.get_command(root, "models")
    assert isinstance(models, click.Group)
    models_ctx = click.Context(models, parent=root, info_name="models")
    command = models.get_command(models_ctx, "import-keras")
    assert command is not None
    ctx = command.make_context("import-keras", [str(tmp_path)], parent=models_ctx)
    assert ctx.params["trust_pickles"] is False
    assert ctx.params["overwrite"] is True  # the prefixed variable works for other flags
