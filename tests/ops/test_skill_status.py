"""The live skill section of ``wxstream status`` and the ``plot --skill`` picture, from
verification records (synthetic values: the summing and the layout only, no weather)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from wxstream.commands.status_cmd import render_text, report_to_json
from wxstream.models.plots import png_size
from wxstream.models.skill_plots import SkillCurve, plot_skill
from wxstream.ops import BrokerReport, StatusReport, assess
from wxstream.ops.skill_status import VerificationRead, skill_json, skill_report, skill_status_lines
from wxstream.rollout import Forecast, score

T0 = datetime(2013, 11, 3, 1, tzinfo=UTC)


def records() -> VerificationRead:
    out = []
    for k in range(10):
        for lead in (1, 6):
            for version, offset in (("aaa", 0.0), ("bbb", 1.0)):
                forecast = Forecast(
                    "EWR", T0 + timedelta(hours=k), lead, 9.0, 10.0 + offset, 11.0, "wx", version
                )
                out.append(score(forecast, 10.0 + 0.1 * k))
    return VerificationRead("weather-verification", tuple(out), undecodable=1, complete=True)


def test_the_status_section_has_one_line_per_version_and_lead() -> None:
    report = skill_report(records())
    lines = skill_status_lines(report)
    assert lines[0].startswith("skill     weather-verification: 40 paired forecast(s)")
    assert "1 undecodable" in lines[0]
    rows = lines[2:]
    assert len(rows) == 4
    assert all("wx" in row for row in rows)
    assert rows[0].split()[1:4] == ["aaa", "1h", "10"]
    data = skill_json(report)
    assert [(f["model_version"], f["lead_h"], f["count"]) for f in data["figures"]] == [
        ("aaa", 1, 10),
        ("aaa", 6, 10),
        ("bbb", 1, 10),
        ("bbb", 6, 10),
    ]
    assert abs(data["figures"][0]["mae_c"] - 0.45) < 1e-12


def test_the_skill_picture_is_written(tmp_path: Path) -> None:
    curve = SkillCurve([1, 6, 24], [0.5, 1.0, 2.0], [0.2, 0.4, 0.8], [0.8, 0.78, 0.7], 300)
    path = plot_skill({"wx aaa": curve}, path=tmp_path / "skill.png", title="t")
    width, height = png_size(path)
    assert width > 500
    assert height > 200


def test_status_shows_and_serialises_the_section() -> None:
    report = replace(StatusReport(BrokerReport("127.0.0.1:1", True)), skill=skill_report(records()))
    health = assess(report)
    text = render_text(report, health)
    assert "skill     weather-verification: 40 paired forecast(s)" in text
    out = json.loads(json.dumps(report_to_json(report, health)))
    assert len(out["skill"]["figures"]) == 4
