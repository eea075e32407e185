"""The house stands: telegram only at the edge, and no loops between packages.

The imports of every module in bot/ are read with `ast` (nothing is imported, so this is fast and
sees imports inside functions too). A package is `bot.<name>` for a directory, and a top-level
module is a package of its own.

KNOWN_* list the violations that work elsewhere has not removed yet. They may only shrink: a new
violation fails, and so does a listed one that is gone, so that the list is trimmed with the fix.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from functools import cache
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent / "bot"

# Where telegram may be imported: the Telegram edge and the wiring around it.
EDGE = (
    "bot.handlers",  # translates updates into domain calls and results into replies
    "bot.app",  # builds the Application, schedules every job
    "bot.scheduling",  # PTB's JobQueue, which app.py hands to the Application
    "bot.context",  # the typed PTB context that app.py builds and handlers receive
    "bot.cli",  # the process's entry: `trygg run` starts PTB and checks the token
    "bot.outbox.sender",  # the one place that turns queued messages into Bot API calls
    "bot.sending",  # replies and outbox messages sent without building PTB's Message
    "bot.http_client",  # the Bot API's HTTP client, PTB's request interface on aiohttp
    "bot.monitoring",  # wraps PTB's request object to count Telegram's failures and outages
    "bot.inbox",  # sits between PTB's Updater and its dispatcher: stores each update first
    "bot.devchat",  # the terminal chat and its fake Bot API
)

# Telegram imports outside the edge, as (module, imported module).
KNOWN_TELEGRAM: set[tuple[str, str]] = set()

# Imports that close a loop between packages, as (module, imported module). Removing all of
# them leaves no loop; each names the work that removes it.
KNOWN_LOOPS: set[tuple[str, str]] = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(BOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in sorted(BOT.rglob("*.py"))}


def package(module: str) -> str:
    """`bot.reminders.jobs` -> `bot.reminders`; `bot.outbox` -> `bot.outbox`."""
    return ".".join(module.split(".")[:2])


def _within(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


@cache
def imports() -> dict[str, frozenset[str]]:
    """Every module of bot/ and the modules it imports (a name imported from a package is the
    submodule when there is one)."""
    found: dict[str, frozenset[str]] = {}
    for name, path in MODULES.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{name}: relative import"
                assert node.module is not None
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    targets.add(sub if sub in MODULES else node.module)
        found[name] = frozenset(targets)
    return found


def package_graph(leave_out: AbstractSet[tuple[str, str]] = frozenset()) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for module, targets in imports().items():
        for target in targets:
            if target.split(".")[0] != "bot" or (module, target) in leave_out:
                continue
            if package(target) != package(module):
                graph[package(module)].add(package(target))
    return graph


def reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = {start}, [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt == goal:
                return True
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


def loops(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Every package edge a -> b where b leads back to a."""
    return sorted((a, b) for a, targets in graph.items() for b in targets if reaches(graph, b, a))


def telegram_outside_edge() -> set[tuple[str, str]]:
    return {
        (module, target)
        for module, targets in imports().items()
        for target in targets
        if target.split(".")[0] == "telegram" and not _within(module, EDGE)
    }


def test_telegram_is_imported_only_at_the_edge() -> None:
    found = telegram_outside_edge()
    assert sorted(found - KNOWN_TELEGRAM) == [], "telegram imported outside the edge"
    assert sorted(KNOWN_TELEGRAM - found) == [], "fixed: remove these from KNOWN_TELEGRAM"


def test_no_new_loop_between_packages() -> None:
    in_loops = set(loops(package_graph(leave_out=KNOWN_LOOPS)))
    culprits = sorted(
        (module, target)
        for module, targets in imports().items()
        for target in targets
        if (package(module), package(target)) in in_loops and (module, target) not in KNOWN_LOOPS
    )
    assert culprits == [], "these imports are part of a loop between packages"


def test_every_known_loop_is_still_there() -> None:
    graph = package_graph()
    gone = [
        (module, target)
        for module, target in sorted(KNOWN_LOOPS)
        if target not in imports().get(module, frozenset())
        or not reaches(graph, package(target), package(module))
    ]
    assert gone == [], "fixed: remove these from KNOWN_LOOPS"


def test_the_walk_sees_the_edge_and_the_domain() -> None:
    """The walk itself works: a handler imports telegram, and the domain reaches storage."""
    assert any(t.startswith("telegram") for t in imports()["bot.handlers.edge"])
    assert "bot.storage" in package_graph()["bot.reports"]


DOMAIN = ("bot.routines", "bot.reports", "bot.reminders", "bot.stats", "bot.health")


def test_storage_imports_no_domain() -> None:
    """Storage returns its own records (bot/storage/records.py); the domain imports storage."""
    found = sorted(
        (module, target)
        for module, targets in imports().items()
        if _within(module, ("bot.storage",))
        for target in targets
        if _within(target, DOMAIN)
    )
    assert found == [], "storage imports the domain"


def test_everyone_imports_storage_through_its_facade() -> None:
    found = sorted(
        (module, target)
        for module, targets in imports().items()
        if not _within(module, ("bot.storage",))
        for target in targets
        if target.startswith("bot.storage.")
    )
    assert found == [], "import these from bot.storage"
