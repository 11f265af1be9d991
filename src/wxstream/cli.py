"""The ``wxstream`` command line: the only place that reads the environment and
configures logging.

Subcommands live in :mod:`wxstream.commands` and are imported lazily, so that
``wxstream kafka start`` does not pay for importing torch or Ray.
"""

from __future__ import annotations

import importlib
import logging
import sys
import traceback

import click

from wxstream import __version__
from wxstream.errors import ConfigError, WxstreamError

# name -> "module:attribute" of a click command, imported on first use.
_COMMANDS: dict[str, str] = {
    "kafka": "wxstream.commands.kafka_cmd:kafka",
    "topics": "wxstream.commands.topics_cmd:topics",
    "train": "wxstream.commands.train_cmd:train",
    "evaluate": "wxstream.commands.evaluate_cmd:evaluate",
    "models": "wxstream.commands.models_cmd:models",
    "serve": "wxstream.commands.serve_cmd:serve",
    "replay": "wxstream.commands.replay_cmd:replay",
    "tail": "wxstream.commands.tail_cmd:tail",
    "demo": "wxstream.commands.demo_cmd:demo",
    "bench": "wxstream.commands.bench_cmd:bench",
    "status": "wxstream.commands.status_cmd:status",
    "plot": "wxstream.commands.plot_cmd:plot",
    "anomalies": "wxstream.commands.anomalies_cmd:anomalies",
}

# Prefix of the environment variables of options that name none explicitly.
ENV_PREFIX = "WXSTREAM"
_NO_ENVVAR = frozenset({"help", "version"})

_LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class _LazyGroup(click.Group):
    """A group whose subcommands are imported only when listed or invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        module = importlib.import_module(module_name)
        command = getattr(module, attr)
        assert isinstance(command, click.Command)
        _show_envvars(command)
        return command


def _show_envvars(command: click.Command) -> None:
    """Make every option name its environment variable in ``--help``.

    Options without an explicit ``envvar`` get ``WXSTREAM_<COMMAND>_<OPTION>`` from
    :data:`ENV_PREFIX`; an option that must only ever be given on purpose (such as
    ``--trust-pickles``) opts out with ``allow_from_autoenv=False``.
    """
    for param in command.params:
        if isinstance(param, click.Option) and param.name not in _NO_ENVVAR:
            param.show_envvar = param.envvar is not None or param.allow_from_autoenv
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _show_envvars(sub)


def configure_logging(level: str) -> None:
    """Configure the root logger once, for the CLI process."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ConfigError(
            f"invalid log level {level!r} (flag --log-level or LOG_LEVEL)",
            fix="use one of DEBUG, INFO, WARNING, ERROR (flag --log-level or LOG_LEVEL)",
        )
    logging.basicConfig(level=numeric, format=_LOG_FORMAT, stream=sys.stderr, force=True)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="wxstream")
@click.option(
    "--log-level",
    envvar="LOG_LEVEL",
    show_envvar=True,
    default="INFO",
    show_default=True,
    help="Logging level: DEBUG, INFO, WARNING or ERROR.",
)
@click.option(
    "--debug",
    is_flag=True,
    envvar="WXSTREAM_DEBUG",
    show_envvar=True,
    help="Show Python tracebacks for errors (also implied by LOG_LEVEL=DEBUG).",
)
@click.pass_context
def cli(ctx: click.Context, log_level: str, debug: bool) -> None:
    """wxstream: hourly weather features on Kafka -> Ray LSTM actors -> forecasts on Kafka."""
    configure_logging(log_level)
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug or log_level.upper() == "DEBUG"


def _report(exc: WxstreamError, debug: bool) -> None:
    if debug:
        traceback.print_exception(exc)
    click.secho(f"error: {exc.message}", fg="red", err=True)
    if exc.fix:
        click.echo(f"fix: {exc.fix}", err=True)


def _report_usage(exc: click.exceptions.UsageError) -> None:
    # A bad flag or environment variable is reported like every other failure: what is
    # wrong (click names the flag, its variable and the allowed values) and the fix.
    command = exc.ctx.command_path if exc.ctx is not None else "wxstream"
    click.secho(f"error: {exc.format_message()}", fg="red", err=True)
    click.echo(f"fix: see `{command} --help` for the allowed values", err=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``wxstream`` script and ``python -m wxstream``."""
    args = sys.argv[1:] if argv is None else argv
    debug_hint = "--debug" in args or "--log-level=DEBUG" in args
    try:
        cli.main(args=args, standalone_mode=False, auto_envvar_prefix=ENV_PREFIX)
    except WxstreamError as exc:
        _report(exc, debug_hint or logging.getLogger().isEnabledFor(logging.DEBUG))
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.exceptions.UsageError as exc:
        _report_usage(exc)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
