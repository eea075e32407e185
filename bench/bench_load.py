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
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.generate import NATIONAL_FILE, generate
from bench.measure import MIB, peak_rss_bytes, reset_peak_rss, rounded, rss_bytes, summary
from bot.routines.loader import LoadResult, load_directory

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
    if result.national.source != directory / NATIONAL_FILE:
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


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="trygg-bench-load-") as tmp:
        directory = Path(tmp) / "routines"
        start = time.perf_counter()
        files = generate(directory, kommuner=KOMMUNER, regioner=REGIONER, seed=SEED)
        generated = time.perf_counter() - start
        size = sum(path.stat().st_size for path in directory.glob("*.yaml"))
        figures = measure(directory, files)
    return {
        **figures,
        "files": len(files),
        "mib_of_yaml": rounded(size / MIB, 3),
        "generate_s": rounded(generated, 3),
    }
