#!/usr/bin/env python3
"""Connex benchmarks (issue 9): figures as ratios measured in one run, against the limits the APIs set.

    python3 dev.py bench                  # every benchmark at its full size (a few minutes)
    python3 dev.py bench economy          # one of: economy throughput incremental memory rules webhook sellers
    python3 dev.py bench --tiny           # every benchmark at a tiny size (what the smoke test runs)

Each benchmark prints its figures and the target beside each; nothing here asserts a speed. See
benchmarks/README.md for what each one measures and how its lower bound is counted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

import economy  # noqa: E402
import economy_v2  # noqa: E402
import incremental  # noqa: E402
import memory  # noqa: E402
import rules  # noqa: E402
import sellers  # noqa: E402
import throughput  # noqa: E402
import webhook  # noqa: E402

Say = Callable[[str], None]

#: name -> (full run, tiny run). The tiny sizes only prove that each benchmark still runs and prints.
BENCHMARKS: dict[str, tuple[Callable[[Say], dict], Callable[[Say], dict]]] = {
    "economy": (lambda say: {**economy.run(say, orders=10_000), **economy_v2.run(say, orders=10_000)},
                lambda say: {**economy.run(say, orders=60), **economy_v2.run(say, orders=60)}),
    "throughput": (lambda say: throughput.run(say, orders=1000, speed=8.0),
                   lambda say: throughput.run(say, orders=60, speed=200.0)),
    "incremental": (lambda say: incremental.run(say, orders=2000), lambda say: incremental.run(say, orders=60)),
    "memory": (lambda say: memory.run(say, small=1_000, large=100_000),
               lambda say: memory.run(say, small=100, large=600)),
    "rules": (lambda say: rules.run(say, orders=100_000, runs=3), lambda say: rules.run(say, orders=300, runs=1)),
    "webhook": (lambda say: webhook.run(say, orders=8), lambda say: webhook.run(say, orders=2, answers=30)),
    "sellers": (lambda say: sellers.run(say, sellers=100, orders=500, workers=(1, 2, 4)),
                lambda say: sellers.run(say, sellers=3, orders=10, workers=(1, 2), slice_orders=4)),
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run (default all): {', '.join(BENCHMARKS)}")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: checks that each benchmark runs and prints")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")

    def say(line: str) -> None:
        print(line, flush=True)

    for name in args.names or list(BENCHMARKS):
        started = time.perf_counter()
        say(f"== {name}{' (tiny)' if args.tiny else ''}")
        BENCHMARKS[name][1 if args.tiny else 0](say)
        say(f"   ({name} took {time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
