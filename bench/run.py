"""Run the benchmarks: one JSON object per benchmark, on a line of its own, on stdout.

    python bench/run.py [--only NAME ...] [--list]
    python bench/run.py --profile NAME [--profile-dir DIR]   # one benchmark under cProfile

Each line has `name`, `value` and `unit`, `baseline` and `ratio` when the benchmark has a
baseline measured in the same run, and whatever other figures the benchmark reports. A benchmark
that fails prints `{"name": ..., "error": ...}` instead, the others still run, and the exit status
is 1. Progress and tracebacks go to stderr.

To add a benchmark: write `bench/bench_<what>.py` with `def run() -> dict[str, Any]` returning at
least `value` and `unit`, and add its name and module to `BENCHMARKS` (`module:function` when a
module holds several).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `python bench/run.py` puts bench/, not the repo, on the path

Result = dict[str, Any]
Benchmark = Callable[[], Result]

# name -> module with `run()`; imported only when selected, so one broken benchmark (even one
# that fails to import) is reported on its own line and does not stop the others.
BENCHMARKS: dict[str, str] = {
    "load_311": "bench.bench_load",
    "contact_path": "bench.bench_contact",
    "report_submit": "bench.bench_reports",
    "anonymise": "bench.bench_reports:run_anonymise",
    "broadcast": "bench.bench_broadcast",
    "broadcast_cpu_hog": "bench.bench_broadcast:run_with_cpu_hog",
    "duplicate_window": "bench.bench_duplicate_window",
    "stats_1m": "bench.bench_stats",
    "load_e2e": "bench.bench_load_e2e",  # two minutes: 500 users against the bot and a bare bot
    "outage_60s": "bench.bench_outage",  # 90 s: metrics and log through a minute without Telegram
    "load_e2e_hog": "bench.bench_load_e2e:run_hog",  # the same with a busy core beside: two more
}

_REQUIRED = ("value", "unit")


def load(name: str) -> Benchmark:
    """`module` runs `module.run`; `module:function` runs another function of the module."""
    module_name, _, function = BENCHMARKS[name].partition(":")
    module = importlib.import_module(module_name)
    benchmark: Benchmark = getattr(module, function or "run")
    return benchmark


def run_one(name: str, profile_dir: Path | None = None) -> Result:
    """The result line of one benchmark: its figures, or the error that stopped it.

    With `profile_dir`, the benchmark runs under cProfile and a summary goes to stderr."""
    start = time.perf_counter()
    try:
        benchmark = load(name)
        if profile_dir is None:
            figures = benchmark()
        else:
            from bench.profiling import profiled

            figures = profiled(name, benchmark, profile_dir, sys.stderr)
        missing = [key for key in _REQUIRED if key not in figures]
        if missing:
            raise ValueError(f"the benchmark returned no {', '.join(missing)}")
    except Exception as error:  # any failure becomes this benchmark's line
        traceback.print_exc(file=sys.stderr)
        return {"name": name, "error": f"{type(error).__name__}: {error}"}
    elapsed = time.perf_counter() - start
    print(f"{name}: done in {elapsed:.1f} s", file=sys.stderr)
    return {"name": name, **{k: v for k, v in figures.items() if k != "name"}}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run trygg's benchmarks (JSON lines on stdout).")
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(BENCHMARKS),
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument(
        "--profile",
        choices=sorted(BENCHMARKS),
        metavar="NAME",
        help="run this one benchmark under cProfile; summaries to stderr (figures are slower)",
    )
    parser.add_argument(
        "--profile-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "trygg-profiles",
        metavar="DIR",
        help="where --profile keeps NAME.prof (and NAME.child.prof for a subprocess)",
    )
    args = parser.parse_args(argv)
    if args.list:
        for name in BENCHMARKS:
            print(name)
        return 0
    if args.profile:
        result = run_one(args.profile, args.profile_dir)
        print(json.dumps(result, ensure_ascii=False), flush=True)
        return 1 if "error" in result else 0
    selected = [name for name in BENCHMARKS if not args.only or name in args.only]
    failed = False
    for name in selected:
        result = run_one(name)
        failed = failed or "error" in result
        print(json.dumps(result, ensure_ascii=False), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
