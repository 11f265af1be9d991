"""The package's shape, checked on the source: which part may import which, and where
the environment is read.

Rules (each checked on every module under ``src/wxstream``, and each proven to catch a
bad example fed to the same checker):

- ``wxstream.streaming.core`` is pure: it imports neither ``confluent_kafka`` nor
  ``ray``, neither directly nor through any ``wxstream`` module it imports, and nothing
  of ``wxstream.kafka`` or of ``wxstream.streaming`` outside ``core``.
- ``wxstream.streaming`` never imports ``wxstream.tools`` or ``wxstream.ops``.
- ``wxstream.messages`` imports nothing of ``wxstream`` but ``wxstream.errors`` and itself.
- ``wxstream.rollout`` imports nothing of ``wxstream`` but ``errors``, ``messages`` and
  itself, and neither Kafka, Ray nor torch through anything.
- Nothing outside ``wxstream.commands`` and ``wxstream.cli`` reads the environment
  (``os.environ``, ``os.getenv``).

Imports anywhere in a module count, those inside functions too: a deferred import runs
all the same when the function does.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "wxstream"

CORE = "wxstream.streaming.core"
CORE_FORBIDDEN_LIBRARIES = ("confluent_kafka", "ray")
ENVIRONMENT_READERS = ("wxstream.commands", "wxstream.cli")
_ENV_NAMES = frozenset({"environ", "environb", "getenv", "getenvb"})


# -- the checker -------------------------------------------------------------------------


@dataclass(frozen=True)
class Module:
    """One module's name and its parsed source."""

    name: str
    tree: ast.Module
    is_package: bool = False


def parse(name: str, source: str, *, is_package: bool = False) -> Module:
    """A module from source text (the tests' bad examples come this way)."""
    return Module(name, ast.parse(source), is_package)


def within(name: str, prefix: str) -> bool:
    """Whether module ``name`` is ``prefix`` or below it."""
    return name == prefix or name.startswith(prefix + ".")


def _absolute(module: Module, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    parts = module.name.split(".")
    base = parts if module.is_package else parts[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Ids of the nodes under ``if TYPE_CHECKING:``: imports there never run."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and (
            (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
            or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")
        ):
            skipped.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return skipped


def imported_names(module: Module) -> set[str]:
    """Every module name ``module`` may import when it runs: ``import a.b`` gives
    ``a.b``; ``from a import b`` gives ``a`` and ``a.b`` (``b`` may be a submodule).
    Imports under ``if TYPE_CHECKING:`` are left out."""
    found: set[str] = set()
    skipped = _type_checking_only(module.tree)
    for node in ast.walk(module.tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, node)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return found


def forbidden_imports(module: Module, prefixes: Iterable[str]) -> list[str]:
    """The names ``module`` imports that are, or lie below, one of ``prefixes``."""
    prefixes = tuple(prefixes)
    return sorted(n for n in imported_names(module) if any(within(n, p) for p in prefixes))


def environment_reads(module: Module) -> list[int]:
    """Line numbers where ``module`` reads the environment through ``os``."""
    os_names: set[str] = set()  # names bound to the os module
    env_names: set[str] = set()  # environ / getenv imported by name
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            os_names.update(a.asname or a.name for a in node.names if a.name == "os")
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            env_names.update(a.asname or a.name for a in node.names if a.name in _ENV_NAMES)
    # ``os.environ[NAME] = value`` hands a setting to child processes: not a read.
    stores = {
        id(node.value)
        for node in ast.walk(module.tree)
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store)
    }
    lines: list[int] = []
    for node in ast.walk(module.tree):
        if id(node) in stores:
            continue
        if (
            isinstance(node, ast.Attribute)
            and node.attr in _ENV_NAMES
            and isinstance(node.value, ast.Name)
            and node.value.id in os_names
        ) or (isinstance(node, ast.Name) and node.id in env_names):
            lines.append(node.lineno)
    return sorted(lines)


def closure(name: str, modules: dict[str, Module]) -> dict[str, str]:
    """Every module importing ``name`` brings along (what it imports, transitively, with
    the packages whose ``__init__`` that runs), each with the module that imports it.
    Names outside ``modules`` (third party) are kept but not followed."""
    importer: dict[str, str] = {name: name}
    todo = [name]
    while todo:
        current = todo.pop()
        if current not in modules:
            continue
        for imported in sorted(imported_names(modules[current])):
            parts = imported.split(".")
            for i in range(1, len(parts) + 1):
                brought = ".".join(parts[:i])
                if brought not in importer:
                    importer[brought] = current
                    todo.append(brought)
    return importer


def core_violations(name: str, modules: dict[str, Module]) -> list[str]:
    """What core module ``name`` must not import: IO parts of the package directly,
    Kafka or Ray clients through anything."""
    module = modules[name]
    io_parts = [
        other
        for other in forbidden_imports(module, ["wxstream.kafka", "wxstream.streaming"])
        if not within(other, CORE) and other != "wxstream.streaming"
    ]
    libraries = [
        f"{found} (imported by {by})"
        for found, by in sorted(closure(name, modules).items())
        if any(within(found, lib) for lib in CORE_FORBIDDEN_LIBRARIES)
    ]
    return io_parts + libraries


# -- the package ---------------------------------------------------------------------------


def _source_modules() -> Iterator[Module]:
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        yield Module(".".join(parts), ast.parse(path.read_text(), str(path)), is_package)


@cache
def package_modules() -> dict[str, Module]:
    """Every module under ``src/wxstream`` by its dotted name."""
    return {module.name: module for module in _source_modules()}


def modules_within(prefix: str) -> list[str]:
    return sorted(name for name in package_modules() if within(name, prefix))


def test_the_package_is_found() -> None:
    assert {"wxstream", "wxstream.cli", "wxstream.streaming.core.windows"} <= set(package_modules())
    assert len(modules_within(CORE)) >= 5


# -- the rules on the package ------------------------------------------------------------------


@pytest.mark.parametrize("name", modules_within(CORE))
def test_the_streaming_core_imports_no_kafka_or_ray(name: str) -> None:
    assert core_violations(name, package_modules()) == []


@pytest.mark.parametrize("name", modules_within("wxstream.streaming"))
def test_streaming_imports_neither_tools_nor_ops(name: str) -> None:
    module = package_modules()[name]
    assert forbidden_imports(module, ["wxstream.tools", "wxstream.ops"]) == []


# The client layer sits below the service and its tools: it serves them, never the reverse.
LAYERS_ABOVE_KAFKA = ["wxstream.streaming", "wxstream.tools", "wxstream.ops", "wxstream.commands"]


@pytest.mark.parametrize("name", modules_within("wxstream.kafka"))
def test_kafka_imports_nothing_above_it(name: str) -> None:
    assert forbidden_imports(package_modules()[name], LAYERS_ABOVE_KAFKA) == []


def messages_violations(module: Module) -> list[str]:
    """What of ``wxstream`` a ``wxstream.messages`` module imports besides errors and
    messages itself."""
    return [
        name
        for name in forbidden_imports(module, [PACKAGE])
        if name != PACKAGE
        and not within(name, "wxstream.errors")
        and not within(name, "wxstream.messages")
    ]


@pytest.mark.parametrize("name", modules_within("wxstream.messages"))
def test_messages_import_only_errors_of_the_package(name: str) -> None:
    assert messages_violations(package_modules()[name]) == []


ROLLOUT = "wxstream.rollout"
ROLLOUT_FORBIDDEN_LIBRARIES = ("confluent_kafka", "ray", "torch")


def rollout_violations(name: str, modules: dict[str, Module]) -> list[str]:
    """What rollout module ``name`` must not import: any of the package but errors,
    messages and rollout directly; Kafka, Ray or torch through anything."""
    allowed = ("wxstream.errors", "wxstream.messages", ROLLOUT)
    direct = [
        other
        for other in forbidden_imports(modules[name], [PACKAGE])
        if other != PACKAGE and not any(within(other, a) for a in allowed)
    ]
    libraries = [
        f"{found} (imported by {by})"
        for found, by in sorted(closure(name, modules).items())
        if any(within(found, lib) for lib in ROLLOUT_FORBIDDEN_LIBRARIES)
    ]
    return direct + libraries


@pytest.mark.parametrize("name", modules_within(ROLLOUT))
def test_rollout_is_pure(name: str) -> None:
    assert rollout_violations(name, package_modules()) == []


def test_only_the_command_line_reads_the_environment() -> None:
    readers = {
        name: lines
        for name, module in package_modules().items()
        if not any(within(name, allowed) for allowed in ENVIRONMENT_READERS)
        and (lines := environment_reads(module))
    }
    assert readers == {}


# -- the checker catches bad examples ------------------------------------------------------


def test_a_core_module_importing_kafka_directly_is_caught() -> None:
    modules = {
        "wxstream.streaming.core.bad": parse(
            "wxstream.streaming.core.bad", "from confluent_kafka import Consumer\n"
        )
    }
    assert core_violations("wxstream.streaming.core.bad", modules) == [
        "confluent_kafka (imported by wxstream.streaming.core.bad)",
        "confluent_kafka.Consumer (imported by wxstream.streaming.core.bad)",
    ]


def test_a_core_module_importing_ray_through_another_module_is_caught() -> None:
    modules = {
        "wxstream.streaming.core.bad": parse(
            "wxstream.streaming.core.bad",
            "def later():\n    from ..core import helper\n    return helper\n",
        ),
        "wxstream.streaming.core.helper": parse(
            "wxstream.streaming.core.helper", "import ray.util\n"
        ),
    }
    assert core_violations("wxstream.streaming.core.bad", modules) == [
        "ray (imported by wxstream.streaming.core.helper)",
        "ray.util (imported by wxstream.streaming.core.helper)",
    ]


def test_a_core_module_importing_the_service_loop_is_caught() -> None:
    bad = "from wxstream.streaming import loop\nimport wxstream.kafka.admin\n"
    modules = {"wxstream.streaming.core.bad": parse("wxstream.streaming.core.bad", bad)}
    assert core_violations("wxstream.streaming.core.bad", modules) == [
        "wxstream.kafka.admin",
        "wxstream.streaming.loop",
    ]


def test_streaming_importing_tools_is_caught() -> None:
    bad = parse("wxstream.streaming.bad", "from wxstream.tools.bench import load\n")
    assert forbidden_imports(bad, ["wxstream.tools", "wxstream.ops"]) == [
        "wxstream.tools.bench",
        "wxstream.tools.bench.load",
    ]


def test_kafka_importing_the_service_is_caught() -> None:
    bad = parse("wxstream.kafka.bad", "from wxstream.streaming.ports import RecordSource\n")
    assert forbidden_imports(bad, LAYERS_ABOVE_KAFKA) == [
        "wxstream.streaming.ports",
        "wxstream.streaming.ports.RecordSource",
    ]


def test_imports_for_type_checking_only_do_not_count() -> None:
    module = parse(
        "wxstream.streaming.core.fine",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import confluent_kafka\n",
    )
    assert forbidden_imports(module, ["confluent_kafka"]) == []


def test_messages_importing_settings_is_caught() -> None:
    bad = parse(
        "wxstream.messages.bad",
        "from wxstream.errors import KafkaError\nfrom .features import X\n"
        "from wxstream import settings\n",
    )
    assert messages_violations(bad) == ["wxstream.settings"]


def test_rollout_importing_models_or_torch_is_caught() -> None:
    modules = {
        "wxstream.rollout.bad": parse(
            "wxstream.rollout.bad",
            "from wxstream.messages import SkillRecord\nfrom wxstream.models import lstm\n",
        ),
        "wxstream.rollout.worse": parse("wxstream.rollout.worse", "from . import bad\n"),
        "wxstream.models.lstm": parse("wxstream.models.lstm", "import torch\n"),
    }
    assert rollout_violations("wxstream.rollout.bad", modules) == [
        "wxstream.models",
        "wxstream.models.lstm",
        "torch (imported by wxstream.models.lstm)",
    ]
    assert rollout_violations("wxstream.rollout.worse", modules) == [
        "torch (imported by wxstream.models.lstm)"
    ]


@pytest.mark.parametrize(
    "source",
    [
        "import os\nvalue = os.environ['X']\n",
        "import os as system\nvalue = system.getenv('X')\n",
        "from os import environ\nvalue = environ.get('X')\n",
        "from os import getenv as read\nvalue = read('X')\n",
        "def f():\n    import os\n    return dict(os.environ)\n",
    ],
)
def test_reading_the_environment_is_caught(source: str) -> None:
    assert environment_reads(parse("wxstream.models.bad", source)) != []


def test_setting_a_variable_for_child_processes_is_not_a_read() -> None:
    module = parse("wxstream.streaming.x", "import os\nos.environ['RAY_X'] = '0'\n")
    assert environment_reads(module) == []
    module = parse("wxstream.streaming.x", "import os\nos.environ['A'] = os.environ['B']\n")
    assert environment_reads(module) == [2]


def test_other_uses_of_os_are_not_environment_reads() -> None:
    good = parse("wxstream.models.good", "import os\npid = os.getpid()\nenviron = {}\n")
    assert environment_reads(good) == []
