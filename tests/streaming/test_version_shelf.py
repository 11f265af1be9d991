"""VersionShelf: a version loads on its own thread while the held ones stay usable; a
failed load is a state, not an exception; a version not held loads when asked for."""

from __future__ import annotations

import threading

from tests.support.waiting import wait_until


class GatedLoader:
    """Loads ``path`` as the string ``model:<path>`` once its gate opens; ``bad`` fails."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.loads: list[str] = []

    def __call__(self, path: str) -> str:
        self.gate.wait(30)
        self.loads.append(path)
        if path == "bad":
            raise OSError("no such file")
        return f"model:{path}"


def test_a_version_loads_beside_the_held_one_without_blocking_it() -> None:
    from wxstream.streaming.version_shelf import VersionShelf

    loader = GatedLoader()
    shelf = VersionShelf(loader)
    shelf.put("a", "model:a")
    shelf.begin("b")
    assert shelf.state("b") == "loading"
    assert shelf.get("a") == "model:a"  # served meanwhile
    loader.gate.set()
    wait_until(lambda: shelf.state("b") == "ready", 30, "b to load")
    assert shelf.get("b") == "model:b"
    shelf.begin("b")  # held: not loaded again
    assert loader.loads == ["b"]


def test_a_failed_load_is_reported_and_a_missing_version_loads_on_demand() -> None:
    from wxstream.streaming.version_shelf import VersionShelf

    loader = GatedLoader()
    loader.gate.set()
    shelf = VersionShelf(loader)
    shelf.begin("bad")
    wait_until(lambda: shelf.state("bad").startswith("failed"), 30, "the failure")
    assert "no such file" in shelf.state("bad")
    assert shelf.state("c") == "absent"
    # A restarted actor holds only its first versions: the served one loads when asked.
    assert shelf.get("c") == "model:c"
    assert shelf.state("c") == "ready"
