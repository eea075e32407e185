"""load_311: load and check the routine files of 290 kommuner and 21 regioner.

What the bot does at start (`RoutineRegistry.reload` calls the same loader): read the national
file, then parse and validate every organisation file into domain objects. The files are made by
`bench/generate.py` in a temporary directory; the first load must accept all of them, without a
single problem, or the benchmark fails.

Timing: the best of up to `MAX_RUNS` loads (the least disturbed by other processes on the
machine), with the median and the best CPU time of the process (`cpu_best`, less sensitive to a
busy machine); loads stop early, after at least `MIN_RUNS`, once they have taken `BUDGET_S`
together, so a slow loader does not blow the time of the whole run. Memory: the growth
of the resident set during the first load (its peak, and what the result keeps afterwards).
"""

from __future__ import annotations

import gc
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.generate import generate
from bench.measure import MIB, peak_rss_bytes, reset_peak_rss, rounded, rss_bytes, summary
from bot.routines.loader import NATIONAL_FILE as _NATIONAL
from bot.routines.loader import LoadResult, load_directory
from bot.routines.registry import RoutineRegistry

NAME = "load_311"
KOMMUNER = 290
REGIONER = 21
SEED = 20261124
GOAL_S = 1.0
MAX_RUNS = 5
MIN_RUNS = 2
BUDGET_S = 20.0


def verify(result: LoadResult, directory: Path, files: list[Path]) -> None:
    """Every generated file, and the national file beside them, loaded without a problem."""
    if result.problems:
        lines = [str(problem) for found in result.problems.values() for problem in found]
        shown = "\n".join(lines[:20])
        raise RuntimeError(
            f"{len(result.problems)} generated file(s) have {len(lines)} problem(s):\n{shown}"
        )
    expected = {path.stem for path in files}
    if set(result.routines) != expected:
        missing = sorted(expected - set(result.routines))[:10]
        raise RuntimeError(f"loaded {len(result.routines)} of {len(expected)}; missing {missing}")
    if result.national.source != directory / _NATIONAL:
        raise RuntimeError("the national file was not loaded: the built-in fallback was used")


def measure(directory: Path, files: list[Path]) -> dict[str, Any]:
    gc.collect()
    before = rss_bytes()
    has_peak = reset_peak_rss()
    start, cpu_start = time.perf_counter(), time.process_time()
    result = load_directory(directory)
    first, cpu = time.perf_counter() - start, [time.process_time() - cpu_start]
    peak = peak_rss_bytes() if has_peak else None
    after = rss_bytes()
    verify(result, directory, files)
    del result
    times = [first]
    while len(times) < MAX_RUNS and (len(times) < MIN_RUNS or sum(times) < BUDGET_S):
        gc.collect()
        start, cpu_start = time.perf_counter(), time.process_time()
        result = load_directory(directory)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
        del result
    stats = summary(times)
    memory: dict[str, Any] = {"peak_rss_mib": None, "retained_rss_mib": None}
    if before is not None and after is not None:
        memory["retained_rss_mib"] = rounded((after - before) / MIB, 3)
        if peak is not None:
            memory["peak_rss_mib"] = rounded((peak - before) / MIB, 3)
    return {
        "value": rounded(stats["best"]),
        "unit": "s",
        "median": rounded(stats["median"]),
        "worst": rounded(stats["worst"]),
        "first": rounded(first),
        "cpu_best": rounded(min(cpu)),
        "runs": stats["runs"],
        "goal": GOAL_S,
        "goal_met": stats["best"] < GOAL_S,
        "per_file_ms": rounded(stats["best"] / len(files) * 1000, 3),
        **memory,
    }


def _touch(path: Path, text: str) -> None:
    """Rewrite a file with a later modification time, as an editor saving it would."""
    path.write_text(text, encoding="utf-8")
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))


def measure_reloads(directory: Path, files: list[Path]) -> dict[str, Any]:
    """What a running bot does when a coordinator saves a file: one file, or the national one.

    The registry must load only the saved organisation file; a saved `_national.yaml` makes it
    load every organisation again (their references to national contacts may have changed).
    """
    registry = RoutineRegistry(directory)
    registry.reload()
    one = files[len(files) // 2]
    text = one.read_text(encoding="utf-8")
    _touch(one, text.replace("Säkerhetssamordnare", "Säkerhetssamordnaren", 1))
    start = time.perf_counter()
    report = registry.reload()
    one_file = time.perf_counter() - start
    if report.updated != (one.stem,) or report.failed:
        raise RuntimeError(f"saving {one.name} reloaded: {report}")
    national = directory / _NATIONAL
    # Any change the loader accepts will do: a comment changes the file, not the contacts, so a
    # real change of a national contact's name is made instead.
    national_text = national.read_text(encoding="utf-8")
    changed = national_text.replace("Brottsofferjouren", "Brottsofferjouren Sverige", 1)
    if changed == national_text:
        raise RuntimeError("the generated national file has no Brottsofferjouren to rename")
    _touch(national, changed)
    start = time.perf_counter()
    report = registry.reload()
    national_s = time.perf_counter() - start
    if not report.national_changed or report.failed:
        raise RuntimeError(f"saving the national file reloaded: {report}")
    return {
        "reload_one_file_ms": rounded(one_file * 1000, 3),
        "reload_national_s": rounded(national_s),
        "reload_national_goal_met": national_s < GOAL_S,
    }


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="trygg-bench-load-") as tmp:
        directory = Path(tmp) / "routines"
        start = time.perf_counter()
        files = generate(directory, kommuner=KOMMUNER, regioner=REGIONER, seed=SEED)
        generated = time.perf_counter() - start
        size = sum(path.stat().st_size for path in directory.glob("*.yaml"))
        figures = measure(directory, files)
        reloads = measure_reloads(directory, files)
    return {
        **reloads,
        **figures,
        "files": len(files),
        "mib_of_yaml": rounded(size / MIB, 3),
        "generate_s": rounded(generated, 3),
    }
