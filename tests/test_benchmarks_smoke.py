"""The benchmarks still run: each one, at a tiny size, prints its figures (so they do not rot).

This is not a timed test: speed is what ``python3 dev.py bench`` reports, at full size.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Per benchmark, the figures its output must carry (a number and the target beside it).
FIGURES = {
    "economy": [r"ShipStation -> QuickBooks: \d+ calls / lower bound \d+ = [0-9.]+ +\(target <= 1\.1\)",
                r"Xero -> ShipStation: \d+ calls / lower bound \d+ = [0-9.]+ +\(target <= 1\.1\)",
                r"ShipStation -> Xero tracking: \d+ calls / lower bound \d+ = [0-9.]+ +\(target <= 1\.1\)",
                r"ShipStation v2 -> QuickBooks: \d+ calls / lower bound \d+ = [0-9.]+ +\(target <= 1\.1\)",
                r"Xero -> ShipStation v2: \d+ calls / lower bound \d+ = [0-9.]+ +\(target <= 1\.1\)",
                r"ShipStation v2 -> Xero tracking: \d+ calls / lower bound \d+ = [0-9.]+ +\(target <= 1\.1\)"],
    "throughput": [r"wall time / allowed = (nan|[0-9.]+) +\(target <= 1\.15\)",
                   r"429 answers: \d+ of \d+ calls = [0-9.]+% +\(target <= 1%"],
    "incremental": [r"Incremental shipstation-to-quickbooks: .*list calls to the source \d+; .*[0-9.]+ s",
                    r"Incremental xero-to-shipstation: .*list calls to the source \d+",
                    r"Incremental tracking-to-xero: .*list calls to the source \d+"],
    "memory": [r"peak growth 100 -> 600 orders: -?[0-9.]+ MB +\(target < 50 MB\)"],
    "rules": [r"compiled / hand-written = [0-9.]+ +\(target <= 2\.0\)",
              r"connex rules dry-run, 20 rules x 300 saved orders: [0-9.]+ s +\(target < 30 s\)"],
    "webhook": [r"median \d+ ms, worst \d+ ms +\(target: median < 2 s\)"],
}


def test_every_benchmark_runs_at_a_tiny_size_and_prints_its_figures():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--tiny", *FIGURES], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    sections = dict(re.findall(r"^== (\w+) \(tiny\)\n(.*?)(?=^== |\Z)", out.stdout, flags=re.M | re.S))
    assert sorted(sections) == sorted(FIGURES)
    for name, patterns in FIGURES.items():
        for pattern in patterns:
            assert re.search(pattern, sections[name]), f"{name}: no line matching {pattern!r} in:\n{sections[name]}"
    # The tiny economy run still checks what it counts: every ShipStation order reached QuickBooks.
    assert re.search(r"ShipStation -> QuickBooks: 60 orders, .*read 60, .*failed 0", sections["economy"])


#: The many-sellers benchmark's figures (it needs PostgreSQL and Redis, and starts worker processes: run apart).
SELLERS = [r"1 worker\(s\): [1-9][\d,]* documents in [0-9.]+ s = [0-9.]+ orders/s; (the limits do not bind|limits' bound "
           r"\d+ orders/s, ratio [0-9.]+)",
           r"2 worker\(s\): [1-9][\d,]* documents in [0-9.]+ s = [0-9.]+ orders/s",
           r"CPU per order: workers [0-9.]+ ms, simulators [0-9.]+ ms; fairness: slowest seller [0-9.]+ s / median "
           r"[0-9.]+ s = [0-9.]+",
           r"throughput ratio: 2 / 1 = [0-9.]+"]


def test_the_sellers_benchmark_runs_at_a_tiny_size_and_prints_its_figures():
    import pytest

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from sellers import missing_services
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    missing = missing_services()
    if missing:
        why = f"the sellers benchmark needs {' and '.join(missing)} (docs/scale.md says how to start them)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {why}")
        pytest.skip(why)
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--tiny", "sellers"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    for pattern in SELLERS:
        assert re.search(pattern, out.stdout), f"no line matching {pattern!r} in:\n{out.stdout}"
