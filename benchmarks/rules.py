"""Target 5, rules: the compiled engine within 2.0x hand-written Python, and a dry run of 100,000 saved
orders in under 30 s.

1. ``rules_bench.py`` (the rule engine's own benchmark: 20 rules over N orders, compiled against the
   same rules written by hand in Python, median of interleaved runs) in a child process; its output
   is shown and its ratio picked out.
2. ``connex rules dry-run`` of the same 20 rules over N saved canonical orders (a JSON file written
   here), timed end to end as a user runs it (process start, reading and validating the file,
   applying the rules, printing every order's outcome to a file).
3. ``rules_lines_bench.py`` (rules on lines at scale: 5,000 SKU rules and a 50,000-row mapping table
   over N orders of 3 lines, each against hand-written dictionary lookups; loading both) in a child
   process; its output is shown and its ratios picked out.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent


def compiled_vs_hand_written(say: Callable[[str], None], orders: int, runs: int) -> float:
    out = subprocess.run([sys.executable, str(HERE / "rules_bench.py"), "--orders", str(orders), "--runs", str(runs)],
                         check=True, capture_output=True, text=True).stdout
    for line in out.strip().splitlines():
        say(f"  {line}")
    found = re.search(r"ratio compiled / hand-written: ([0-9.]+)", out)
    return float(found.group(1)) if found else float("nan")


def dry_run_seconds(say: Callable[[str], None], orders: int) -> float:
    sys.path.insert(0, str(HERE))
    from pydantic import TypeAdapter

    import rules_bench
    from connex_core.models import Order

    connex = Path(sys.executable).with_name("connex")
    with tempfile.TemporaryDirectory(prefix="connex-bench-") as tmp:
        folder = Path(tmp)
        (folder / rules_bench.FILE).write_text(rules_bench.RULES)
        saved = folder / "orders.json"
        saved.write_bytes(TypeAdapter(list[Order]).dump_json(rules_bench.make_orders(orders)))
        with open(folder / "out.txt", "wb") as out:
            started = time.perf_counter()
            subprocess.run([str(connex), "rules", "dry-run", str(folder / rules_bench.FILE), "--orders", str(saved)],
                           check=True, stdout=out, stderr=subprocess.DEVNULL)
            seconds = time.perf_counter() - started
        summary = [line for line in (folder / "out.txt").read_text().splitlines() if line.startswith("summary:")]
    say(f"  connex rules dry-run, 20 rules x {orders:,} saved orders: "
        f"{seconds:.1f} s  (target < 30 s)  [{summary[0] if summary else 'no summary'}]")
    return seconds


def run(say: Callable[[str], None], orders: int = 100_000, runs: int = 3) -> dict[str, float]:
    say(f"Rules: benchmarks/rules_bench.py --orders {orders} --runs {runs}")
    ratio = compiled_vs_hand_written(say, orders, runs)
    say(f"  compiled / hand-written = {ratio:.2f}  (target <= 2.0)")
    seconds = dry_run_seconds(say, orders)
    say(f"Rules on lines: benchmarks/rules_lines_bench.py --orders {orders} --runs {runs}")
    out = subprocess.run([sys.executable, str(HERE / "rules_lines_bench.py"), "--orders", str(orders), "--runs",
                          str(runs)], check=True, capture_output=True, text=True).stdout
    for line in out.strip().splitlines():
        say(f"  {line}")
    ratios = [float(r) for r in re.findall(r"ratio compiled / hand-written: ([0-9.]+)", out)]
    return {"compiled/hand-written": ratio, "dry-run seconds": seconds,
            "sku rules/hand-written": ratios[0] if ratios else float("nan"),
            "map/hand-written": ratios[1] if len(ratios) > 1 else float("nan")}
