"""The routines the bot serves, reloaded while it runs, never worse than before a reload.

Coordinators edit files on a live system, and a half-saved or mistyped file must not take their
organisation, or anyone else's, offline: a broken file keeps the last good version of its
organisation, a broken national file keeps the last good national contacts (the built-in ones at
first start, so that 112 always works), and a deleted file removes its organisation.

`reload` runs in a worker thread (the bot calls it through `asyncio.to_thread`) while handlers
read from the event loop, so it builds new dictionaries and swaps them in at the end: a reader
sees either the old state or the new one, never a half-updated dictionary.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from bot.routines.fallback import FALLBACK_NATIONAL
from bot.routines.loader import (
    NATIONAL_FILE,
    LoadedRoutine,
    Problem,
    RoutineError,
    collector_paused,
    is_routine_name,
    load_national,
    read_routine,
)
from bot.routines.models import National, Routine

log = logging.getLogger(__name__)

# What `changed` compares: a file rewritten with the same size in the same nanosecond is the
# only change it misses, and the next edit catches it.
Stamp = tuple[int, int]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ReloadReport:
    """What one reload did, for the log and for tests."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    kept_last_good: tuple[str, ...] = ()
    failed: tuple[Path, ...] = ()
    national_changed: bool = False
    national_failed: bool = False

    def __str__(self) -> str:
        parts = [
            f"{label} {', '.join(ids)}"
            for label, ids in (
                ("added", self.added),
                ("updated", self.updated),
                ("removed", self.removed),
                ("kept last good", self.kept_last_good),
            )
            if ids
        ]
        if self.national_changed:
            parts.append("national contacts changed")
        if self.failed:
            parts.append(f"broken {', '.join(str(path) for path in self.failed)}")
        return "; ".join(parts) or "no changes"


@dataclass
class _Draft:
    """The next state, built aside while a reload runs."""

    national: National
    routines: dict[str, Routine]
    loaded: dict[str, LoadedRoutine]
    problems: dict[Path, list[Problem]]
    failing_since: dict[Path, datetime]


class RoutineRegistry:
    """The loaded routines of one directory. Empty, with the built-in national, until `reload`."""

    def __init__(self, directory: Path, now: Callable[[], datetime] = _utc_now) -> None:
        self._directory = directory
        self._now = now
        self._lock = threading.Lock()
        self._national: National = FALLBACK_NATIONAL
        self._routines: dict[str, Routine] = {}
        # What each served file says apart from the national file, to apply a new one to it.
        self._loaded: dict[str, LoadedRoutine] = {}
        self._problems: dict[Path, list[Problem]] = {}
        self._failing_since: dict[Path, datetime] = {}
        self._stamps: dict[Path, Stamp] = {}

    @property
    def directory(self) -> Path:
        return self._directory

    @property
    def national(self) -> National:
        return self._national

    def get(self, org_id: str) -> Routine | None:
        return self._routines.get(org_id)

    def organisations(self) -> list[Routine]:
        """Every served routine, sorted by organisation id for stable listings."""
        return [self._routines[org_id] for org_id in sorted(self._routines)]

    def problems(self) -> dict[Path, list[Problem]]:
        """Current problems per file; a file that loads has no entry."""
        return {path: list(found) for path, found in self._problems.items()}

    def failing_since(self, path: Path) -> datetime | None:
        """When `path` (directory / file name) started failing, without a good load since."""
        return self._failing_since.get(path)

    def changed(self) -> bool:
        """Whether any routine file was added, removed or rewritten since the last reload.

        Polled every few seconds, so it only lists the directory and stats files; parsing is
        left to `reload`.
        """
        return self._scan() != self._stamps

    def reload(self) -> ReloadReport:
        """Load what changed; see the module docstring for what a broken file keeps."""
        with self._lock:
            return self._reload()

    # -- internals -------------------------------------------------------------------------

    def _scan(self) -> dict[Path, Stamp]:
        stamps: dict[Path, Stamp] = {}
        try:
            with os.scandir(self._directory) as entries:
                for entry in entries:
                    if entry.name != NATIONAL_FILE and not is_routine_name(entry.name):
                        continue
                    try:
                        if entry.is_file():
                            info = entry.stat()
                            stamps[self._directory / entry.name] = (info.st_mtime_ns, info.st_size)
                    except OSError:  # removed between listing and stat
                        continue
        except OSError:
            return {}
        return stamps

    def _reload(self) -> ReloadReport:
        stamps = self._scan()
        draft = _Draft(
            national=self._national,
            routines=dict(self._routines),
            loaded=dict(self._loaded),
            problems=dict(self._problems),
            failing_since=dict(self._failing_since),
        )
        national_path = self._directory / NATIONAL_FILE
        national_changed = self._load_national(national_path, draft)
        outcomes: dict[str, list[str]] = {"added": [], "updated": [], "kept": []}
        with collector_paused():  # a changed national file reloads every organisation
            for path in sorted(stamps):
                if path == national_path or not self._needs_load(path, stamps, national_changed):
                    continue
                unchanged = self._stamps.get(path) == stamps[path] and path not in self._problems
                outcome = self._load_routine(path, draft, unchanged)
                outcomes.setdefault(outcome, []).append(path.stem)
        removed = self._forget_deleted(stamps, national_path, draft)
        self._national = draft.national
        self._routines = draft.routines
        self._loaded = draft.loaded
        self._problems = draft.problems
        self._failing_since = draft.failing_since
        self._stamps = stamps
        return ReloadReport(
            added=tuple(outcomes["added"]),
            updated=tuple(outcomes["updated"]),
            removed=tuple(removed),
            kept_last_good=tuple(outcomes["kept"]),
            failed=tuple(sorted(draft.problems)),
            national_changed=national_changed,
            national_failed=national_path in draft.problems,
        )

    def _needs_load(self, path: Path, stamps: dict[Path, Stamp], national_changed: bool) -> bool:
        """Unchanged good files are not parsed again, unless the national contacts changed.

        Broken files are always retried: a fix may not change their stamp (a chmod, say).
        """
        return national_changed or self._stamps.get(path) != stamps[path] or path in self._problems

    def _load_national(self, path: Path, draft: _Draft) -> bool:
        """Load the national file into `draft`; whether the national contacts changed."""
        try:
            national = load_national(path)
        except RoutineError as error:
            self._failed(path, error.problems, draft, keeps="the last good national contacts")
            return False
        self._succeeded(path, draft)
        if national == draft.national:
            return False
        draft.national = national
        return True

    def _load_routine(self, path: Path, draft: _Draft, unchanged: bool) -> str:
        """Load one organisation file into `draft`: added, updated, kept, unchanged or failed.

        A file `unchanged` since it loaded without problems is only resolved against the new
        national file, as loading it again would (see LoadedRoutine), unless that fails.
        """
        org_id = path.stem
        previous = draft.routines.get(org_id)
        loaded = draft.loaded.get(org_id) if unchanged else None
        routine = None if loaded is None else loaded.with_national(draft.national)
        if routine is None:
            try:
                loaded = read_routine(path, draft.national)
            except RoutineError as error:
                keeps = "its last good version" if previous else "no version: it is not served"
                self._failed(path, error.problems, draft, keeps=keeps)
                return "kept" if previous else "failed"
            routine = loaded.routine
            draft.loaded[org_id] = loaded
        self._succeeded(path, draft)
        draft.routines[org_id] = routine  # always: it may be re-resolved against a new national
        if previous is None:
            return "added"
        if replace(previous, national=routine.national) != routine:
            return "updated"
        return "unchanged"

    def _forget_deleted(
        self, stamps: dict[Path, Stamp], national_path: Path, draft: _Draft
    ) -> list[str]:
        """Organisations whose file is gone are removed; a gone national file is just broken."""
        removed = [
            org_id
            for org_id, routine in draft.routines.items()
            if routine.source is not None and routine.source not in stamps
        ]
        for org_id in removed:
            del draft.routines[org_id]
            draft.loaded.pop(org_id, None)
        for path in [p for p in draft.problems if p not in stamps and p != national_path]:
            del draft.problems[path]
            draft.failing_since.pop(path, None)
        for org_id in removed:
            log.info("routine %s removed: its file is gone", org_id)
        return sorted(removed)

    def _failed(self, path: Path, problems: list[Problem], draft: _Draft, keeps: str) -> None:
        """Record and log a broken file; the log holds file positions and messages only."""
        if draft.problems.get(path) != problems:
            log.warning("routine file %s has %d problem(s); keeping %s", path, len(problems), keeps)
            for problem in problems:
                log.warning("%s", problem)
        draft.problems[path] = problems
        draft.failing_since.setdefault(path, self._now())

    def _succeeded(self, path: Path, draft: _Draft) -> None:
        if draft.problems.pop(path, None) is not None:
            log.info("routine file %s loads again", path)
        draft.failing_since.pop(path, None)
