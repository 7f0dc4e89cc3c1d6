"""What every benchmark script shares: the machine's description and writing its results table."""

from __future__ import annotations

import csv
import os
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_rows(name: str, rows: list[dict]) -> Path:
    """``rows`` (dicts with the same keys) and the machine as ``benchmarks/results/<name>.csv``."""
    out = RESULTS / f"{name}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*rows[0], "machine"])
        writer.writeheader()
        writer.writerows([{**r, "machine": machine()} for r in rows])
    print(f"wrote {out}")
    return out


def write_timings(name: str, rows: list[tuple[str, str, float]]) -> Path:
    """Print ``(benchmark, what, seconds)`` rows under the machine, and write them as :func:`write_rows` does."""
    print(f"machine: {machine()}")
    width = max(len(benchmark) for benchmark, _, _ in rows)
    for benchmark, what, seconds in rows:
        print(f"{benchmark:{width}s} {seconds:8.2f} s   {what}")
    return write_rows(name, [{"benchmark": b, "what": w, "seconds": round(t, 3)} for b, w, t in rows])


def best_of(func, repeat: int = 3) -> float:
    """Shortest wall time of ``repeat`` calls of ``func``, in seconds."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        func()
        times.append(time.perf_counter() - t)
    return min(times)
