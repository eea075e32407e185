"""`run.py --profile NAME`: one benchmark under cProfile, and a short summary of where time went.

cProfile is in the standard library (no dependency, works on every platform the bot runs on).
It sees the process it runs in only, so a benchmark that starts the bot as a subprocess
(`load_e2e`) reads `PROFILE_ENV`: when it is set, the benchmark starts the bot under cProfile
too, writing to that path, and the summary shows the bot's profile as well as the bench's own.

A summary is the top functions by cumulative time (what a call costs with everything under it)
and by own time (where the interpreter actually was). The whole profile is kept in a `.prof`
file for `python -m pstats FILE` (or snakeviz) to dig further.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

PROFILE_ENV = "TRYGG_BENCH_PROFILE"
"""Set by `run.py --profile`: where a benchmark's subprocess writes its own profile."""
TOP = 25


def summary(path: Path, title: str, top: int = TOP) -> str:
    """The top `top` functions of a saved profile by cumulative and by own time, as text."""
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.strip_dirs()
    out.write(f"=== {title}: {stats.total_tt:.2f} s profiled ({path}) ===\n")  # type: ignore[attr-defined]
    out.write(f"--- top {top} by cumulative time ---\n")
    stats.sort_stats(pstats.SortKey.CUMULATIVE).print_stats(top)
    out.write(f"--- top {top} by own time ---\n")
    stats.sort_stats(pstats.SortKey.TIME).print_stats(top)
    return _trim(out.getvalue())


def _trim(text: str) -> str:
    """Without pstats' blank lines."""
    return "\n".join(line.rstrip() for line in text.splitlines() if line.strip()) + "\n"


def profiled(
    name: str, benchmark: Callable[[], dict[str, Any]], directory: Path, stream: TextIO
) -> dict[str, Any]:
    """Run `benchmark` under cProfile; write the summaries to `stream` and the profiles to
    `directory` (`NAME.prof`, and `NAME.child.prof` when the benchmark profiled a subprocess)."""
    directory.mkdir(parents=True, exist_ok=True)
    own = directory / f"{name}.prof"
    child = directory / f"{name}.child.prof"
    child.unlink(missing_ok=True)
    os.environ[PROFILE_ENV] = str(child)
    profile = cProfile.Profile()
    try:
        result = profile.runcall(benchmark)
    finally:
        os.environ.pop(PROFILE_ENV, None)
        profile.dump_stats(str(own))
    stream.write(summary(own, f"{name} (bench process)"))
    if child.exists():
        stream.write(summary(child, f"{name} (bot subprocess)"))
    stream.flush()
    return result


def subprocess_prefix() -> list[str]:
    """`-m cProfile -o PATH` for a Python subprocess when `run.py --profile` asked for it."""
    path = os.environ.get(PROFILE_ENV)
    return ["-m", "cProfile", "-o", path] if path else []
