"""SwapPlan: which announced alias states lead to a load, a switch or nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from wxstream.messages.alias_state import AliasState
from wxstream.streaming.core.swap import Refusal, Served, SwapAction, SwapPlan

AT = datetime(2026, 12, 1, tzinfo=UTC)


def state(
    champion: str, challenger: str | None = None, sequence: int = 1, name: str = "m"
) -> AliasState:
    return AliasState(name, champion, challenger, AT, "ana", "test", sequence)


def test_a_move_to_a_new_version_loads_it_and_switches_once_checked() -> None:
    plan = SwapPlan("m", Served("a"))
    assert plan.offer(state("b"), 0.0) == SwapAction("load", Served("b"))
    assert plan.take() is None  # not loaded yet
    assert plan.loaded(Served("b"), None) is None
    assert plan.take() == Served("b")
    assert plan.served == Served("b")
    assert plan.previous == Served("a")
    assert plan.take() is None


def test_other_names_older_sequences_and_what_is_served_are_ignored() -> None:
    plan = SwapPlan("m", Served("a"))
    assert plan.offer(state("b", name="other"), 0.0) is None
    assert plan.offer(state("a", sequence=3), 0.0) is None  # what serves already
    assert plan.offer(state("b", sequence=2), 0.0) is None  # older than 3
    assert plan.offer(state("b", sequence=4), 0.0) == SwapAction("load", Served("b"))
    assert plan.offer(state("b", sequence=5), 0.0) is None  # already coming


def test_a_pinned_reference_never_follows_moves() -> None:
    plan = SwapPlan("m", Served("a"), pinned=True)
    assert plan.offer(state("b"), 0.0) is None
    assert plan.take() is None


def test_a_failed_load_is_refused_and_the_served_versions_stay() -> None:
    plan = SwapPlan("m", Served("a"))
    plan.offer(state("b"), 0.0)
    refusal = plan.loaded(Served("b"), "not finite")
    assert refusal == Refusal(Served("b"), "not finite")
    assert plan.take() is None
    assert plan.served == Served("a")


def test_a_load_past_its_timeout_is_refused_and_a_late_report_dropped() -> None:
    plan = SwapPlan("m", Served("a"), load_timeout_s=10.0)
    plan.offer(state("b"), 100.0)
    assert plan.expired(109.0) is None
    refusal = plan.expired(110.0)
    assert refusal is not None
    assert refusal.target == Served("b")
    assert plan.loaded(Served("b"), None) is None
    assert plan.take() is None


def test_a_move_back_before_the_switch_cancels_it() -> None:
    plan = SwapPlan("m", Served("a"))
    plan.offer(state("b", sequence=1), 0.0)
    plan.loaded(Served("b"), None)
    assert plan.offer(state("a", sequence=2), 0.0) is None
    assert plan.take() is None
    assert plan.served == Served("a")


def test_a_rollback_to_a_checked_version_switches_without_a_load() -> None:
    plan = SwapPlan("m", Served("a"))
    plan.offer(state("b", sequence=1), 0.0)
    plan.loaded(Served("b"), None)
    plan.take()
    assert plan.offer(state("a", sequence=2), 5.0) == SwapAction("switch", Served("a"))
    assert plan.take() == Served("a")
    assert plan.previous == Served("b")


def test_a_new_challenger_is_a_new_target() -> None:
    plan = SwapPlan("m", Served("a"))
    assert plan.offer(state("a", "c"), 0.0) == SwapAction("load", Served("a", "c"))
    assert Served("a", "c").versions == ("a", "c")
    assert str(Served("a", "c")) == "a+c"
