"""The benchmarks still run: each one, at a tiny size, prints its figures (so they do not rot).

This is not a timed test: speed is what ``python3 dev.py bench`` reports, at full size.
"""

from __future__ import annotations

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
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--tiny"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    sections = dict(re.findall(r"^== (\w+) \(tiny\)\n(.*?)(?=^== |\Z)", out.stdout, flags=re.M | re.S))
    assert sorted(sections) == sorted(FIGURES)
    for name, patterns in FIGURES.items():
        for pattern in patterns:
            assert re.search(pattern, sections[name]), f"{name}: no line matching {pattern!r} in:\n{sections[name]}"
    # The tiny economy run still checks what it counts: every ShipStation order reached QuickBooks.
    assert re.search(r"ShipStation -> QuickBooks: 60 orders, .*read 60, .*failed 0", sections["economy"])
