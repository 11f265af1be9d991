"""Shared click options: ``--leads`` parsing, the same in every command that has it."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from wxstream.commands.options import LEADS, parse_leads


@pytest.mark.parametrize(
    ("text", "leads"),
    [
        ("1,6,24", (1, 6, 24)),
        ("24, 6,1", (1, 6, 24)),
        ("6,1,6", (1, 6)),
        ("12", (12,)),
        ("1,6,", (1, 6)),
    ],
)
def test_leads_are_positive_hours_deduplicated_and_sorted(
    text: str, leads: tuple[int, ...]
) -> None:
    assert parse_leads(text) == leads


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("1,six", "'six' is not a whole number of hours"),
        ("1.5", "'1.5' is not a whole number of hours"),
        ("0,6", "0 is not a lead"),
        ("-1", "-1 is not a lead"),
        ("", "give one or more leads"),
        (" , ", "give one or more leads"),
    ],
)
def test_bad_leads_are_a_bad_parameter_saying_why(text: str, said: str) -> None:
    with pytest.raises(click.BadParameter) as caught:
        parse_leads(text)
    assert said in caught.value.message


def test_the_option_names_itself_in_the_error_and_passes_leads_on() -> None:
    @click.command()
    @click.option("--leads", type=LEADS, default="1,6,24")
    def show(leads: tuple[int, ...]) -> None:
        click.echo(repr(leads))

    runner = CliRunner()
    assert runner.invoke(show, []).output.strip() == "(1, 6, 24)"
    assert runner.invoke(show, ["--leads", "24,3,3"]).output.strip() == "(3, 24)"
    bad = runner.invoke(show, ["--leads", "3,0"])
    assert bad.exit_code == 2
    assert "Invalid value for '--leads': 0 is not a lead" in bad.output


def test_parse_inputs_keeps_order_and_refuses_unknown_or_repeated_names() -> None:
    from wxstream.commands.options import parse_inputs

    assert parse_inputs(" temperature,pressure , wind_u,") == ("temperature", "pressure", "wind_u")
    for bad in ("temperature,foo", "temperature,temperature", " , "):
        with pytest.raises(click.BadParameter):
            parse_inputs(bad)


def test_the_rich_preset_reads_only_inputs_of_the_catalogue() -> None:
    from wxstream.models.config import get_preset
    from wxstream.models.config_derived import adapter_for

    adapter = adapter_for(get_preset("rich"))
    assert adapter.optional_input_columns == (3, 4, 5, 6)  # pressure, wind u/v, precipitation
