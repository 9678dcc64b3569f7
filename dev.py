#!/usr/bin/env python3
"""Run Connex from a fresh clone with nothing but Python 3.10+.

    python3 dev.py demo          # the demo: simulated APIs on loopback, SQLite state
    python3 dev.py test          # the whole test suite (what CI runs)
    python3 dev.py connex ARGS   # any connex command, in the project's environment
    python3 dev.py bench [NAME]  # the benchmarks (benchmarks/README.md)
    python3 dev.py mutation [MODULE]  # mutation scores of the core's critical modules (scripts/mutation.py)

The first call creates ``.venv/`` and installs the core and the four plugins into it (editable,
with their test extras). Later calls reinstall only when a ``pyproject.toml`` changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("CONNEX_VENV", ROOT / ".venv"))
PACKAGES = [ROOT, ROOT / "plugins" / "shipstation", ROOT / "plugins" / "quickbooks", ROOT / "plugins" / "xero",
            ROOT / "plugins" / "csv"]


def _bin(name: str) -> Path:
    return VENV / ("Scripts" if os.name == "nt" else "bin") / name


def _stamp() -> str:
    h = hashlib.sha256()
    for pkg in PACKAGES:
        h.update((pkg / "pyproject.toml").read_bytes())
    return h.hexdigest()


def ensure_env() -> None:
    if sys.version_info < (3, 10):
        sys.exit(f"Connex needs Python 3.10 or newer (this is {sys.version.split()[0]})")
    stamp_file = VENV / ".connex-stamp"
    if stamp_file.exists() and stamp_file.read_text() == _stamp() and _bin("connex").exists():
        return
    if not _bin("python").exists():
        print(f"creating virtual environment {VENV} ...", file=sys.stderr)
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    py = str(_bin("python"))
    print("installing connex-core and the plugins (first run only) ...", file=sys.stderr)
    subprocess.check_call([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--upgrade", "pip"])
    args = [py, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    for pkg in PACKAGES:
        args += ["-e", f"{pkg}[test]"]
    subprocess.check_call(args)
    stamp_file.write_text(_stamp())


def _parallel(rest: list[str]) -> list[str]:
    """pytest-xdist's options for the whole suite: most of its time is spent waiting on subprocesses, servers and
    sockets, so several workers share the 2 cores well (each file on one worker, so a module's fixtures are built once).
    ``CONNEX_TEST_WORKERS=0`` (or ``-n``/``-p no:xdist`` given) runs it as given, in one process."""
    workers = os.environ.get("CONNEX_TEST_WORKERS", "4")
    if workers == "0" or any(a == "-n" or a.startswith("-n") or a == "no:xdist" for a in rest):
        return []
    return ["-n", workers, "--dist", "loadfile"]


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    ensure_env()
    cmd, rest = argv[0], argv[1:]
    env = dict(os.environ)
    if cmd == "demo":
        return subprocess.call([str(_bin("connex")), "demo", *rest], env=env)
    if cmd == "test":
        return subprocess.call([str(_bin("python")), "-m", "pytest", *_parallel(rest), *rest], cwd=ROOT, env=env)
    if cmd == "connex":
        return subprocess.call([str(_bin("connex")), *rest], env=env)
    if cmd == "bench":
        return subprocess.call([str(_bin("python")), str(ROOT / "benchmarks" / "run.py"), *rest], cwd=ROOT, env=env)
    if cmd == "mutation":
        py = str(_bin("python"))
        if subprocess.call([py, "-c", "import cosmic_ray"], stderr=subprocess.DEVNULL) != 0:
            subprocess.check_call([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "cosmic-ray>=8.3,<9"])
        return subprocess.call([py, str(ROOT / "scripts" / "mutation.py"), *rest], cwd=ROOT, env=env)
    print(f"unknown command {cmd!r}; try: demo, test, connex, bench, mutation", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
