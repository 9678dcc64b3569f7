"""No secret leaks: every command, run against the simulators with known secrets in the config (as
environment and file references), and the issued OAuth tokens, are looked for in stdout, stderr
(tracebacks included), every file Connex wrote (the SQLite state byte for byte, WAL included) and
the token files of the other connections. Private files are mode 0600. TLS is verified for real hosts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from connex_core.config import load_config
from connex_core.demo import default_rules_dir
from connex_core.engine import SyncEngine
from connex_core.plugins import PluginManager
from connex_core.sandbox import Fault, SandboxServer, SimClock
from connex_core.sandbox.runner import write_config
from connex_quickbooks.sim.simulator import QuickBooksSimulator
from connex_shipstation.sim.simulator import ShipStationSimulator
from connex_xero.sim.simulator import XeroSimulator

CONNEX = str(Path(sys.executable).with_name("connex"))
CLOCKRUN = str(Path(__file__).with_name("clockrun.py"))
SECRETS = {
    "shipstation": {"api_key": "ssKEY-7f3a9c1e5d", "api_secret": "ssSECRET-b2d4e6f8"},
    "quickbooks": {"client_secret": "qbSECRET-91ab23cd", "refresh_token": "qbREFRESH-55cd77ef",
                   "verifier_token": "qbVERIFIER-0e0e1f1f"},
    "xero": {"client_secret": "xeroSECRET-42424242", "refresh_token": "xeroREFRESH-77778888",
             "webhook_key": "xeroWEBHOOK-13571357"},
}
#: Secrets given by environment variable instead of a file reference.
FROM_ENV = {("shipstation", "api_key"): "T_SS_KEY", ("quickbooks", "client_secret"): "T_QB_SECRET",
            ("xero", "client_secret"): "T_XERO_SECRET"}
#: The simulators' default credentials: what `connex demo` and `connex sandbox` use.
DEFAULTS = ["ss-sandbox-key", "ss-sandbox-secret", "qb-sandbox-secret", "qb-sandbox-refresh-0", "qb-sandbox-verifier",
            "xero-sandbox-secret", "xero-sandbox-refresh-0", "xero-sandbox-webhook-key"]


def issued_tokens(sim) -> set[str]:
    """Every access and refresh token the simulator ever issued (its own records)."""
    return {t for attr in ("_access", "_refresh") for t in getattr(sim, attr, {})}


def token_values(folder: Path) -> dict[Path, set[str]]:
    """What each token file holds that is a secret."""
    out = {}
    for path in folder.rglob("*.tokens.json"):
        data = json.loads(path.read_text())
        out[path] = {str(data[k]) for k in ("access_token", "refresh_token") if data.get(k)}
    return out


def leaks(text: str | bytes, secrets: set[str]) -> list[str]:
    blob = text if isinstance(text, bytes) else text.encode()
    return sorted(s for s in secrets if s and s.encode() in blob)


def private_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and (".connex" in p.parts or p.suffix.startswith(".db")
                                                            or p.name.endswith((".db-wal", ".db-shm"))
                                                            or ".secrets" in p.parent.name)]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("secrets")
    shutil.copytree(default_rules_dir(), folder / "rules")
    clock = SimClock(speed=100)
    sims = {"shipstation": ShipStationSimulator(clock=clock, seed=2, **SECRETS["shipstation"]),
            "quickbooks": QuickBooksSimulator(clock=clock, seed=2, **SECRETS["quickbooks"]),
            "xero": XeroSimulator(clock=clock, seed=2, **SECRETS["xero"])}
    with SandboxServer(sims) as server:
        for sim in sims.values():
            sim.seed(12)
        config = write_config(server, folder / "connex.toml")
        text = config.read_text()
        env = dict(os.environ)
        for (conn, key), var in FROM_ENV.items():
            text = re.sub(rf'(\[connections\.{conn}\][^\[]*?){key} = \{{ "file" = "[^"]+" \}}',
                          rf'\1{key} = {{ env = "{var}" }}', text, count=1)
            env[var] = SECRETS[conn][key]
        config.write_text(text)
        for secret in SECRETS["shipstation"].values():
            assert secret not in text
        (folder / "connex.secrets" / "shipstation.api_key").unlink()  # only the environment has it now

        outputs: list[tuple[str, str, str]] = []

        def connex(*args: str, clocked: bool = False, ok: tuple[int, ...] = (0, 5)) -> int:
            cmd = ([sys.executable, CLOCKRUN, "100", clock.utcnow().isoformat()] if clocked else [CONNEX]) + list(args)
            p = subprocess.run(cmd, capture_output=True, text=True, cwd=folder, env=env, timeout=120)
            outputs.append((" ".join(args), p.stdout, p.stderr))
            assert p.returncode in ok, (args, p.returncode, p.stderr[-1500:])
            return p.returncode

        cfg = ["--config", str(config)]
        connex("run", *cfg, clocked=True)
        sims["shipstation"].simulate_activity()
        connex("run", *cfg, "--json", clocked=True)
        connex("run", *cfg, "--dry-run", clocked=True)
        connex("--verbose", "run", *cfg, "--task", "quickbooks-to-shipstation", clocked=True)
        connex("log", *cfg)
        connex("log", *cfg, "--json")
        connex("plugins", "list")
        connex("plugins", "list", "--json")
        connex("rules", "check", *map(str, sorted((folder / "rules").glob("*.rules"))))
        sims["shipstation"].faults.add(Fault("error", status=401))
        connex("--debug", "connect", "shipstation", *cfg, ok=(6,))
        sims["shipstation"].faults.clear()
        for sim in sims.values():  # every API fails; then the stored tokens are refused
            sim.faults.add(Fault("error", status=503, body=b"<html>down</html>", times=40))
        connex("--debug", "run", *cfg, clocked=True, ok=(0, 5, 6))
        for sim in sims.values():
            sim.faults.clear()
        issued = set().union(*(issued_tokens(s) for s in sims.values()))
        sims["xero"].revoke_tokens()
        sims["quickbooks"]._refresh.clear()  # the user disconnected the app in QuickBooks too
        sims["quickbooks"].expire_tokens()
        connex("--debug", "run", *cfg, "--task", "xero-to-shipstation", "--task", "quickbooks-to-shipstation",
               clocked=True, ok=(6,))
        issued |= set().union(*(issued_tokens(s) for s in sims.values()))
    yield folder, config, outputs, issued


def configured() -> set[str]:
    return {v for conn in SECRETS.values() for v in conn.values()}


def test_no_secret_in_any_output(world):
    folder, _, outputs, issued = world
    secrets = configured() | issued | set().union(*token_values(folder).values())
    assert len(issued) >= 4, "tokens were issued and refreshed"
    for command, out, err in outputs:
        assert leaks(out, secrets) == [], command
        assert leaks(err, secrets) == [], command
    assert any("Traceback" in err for _, _, err in outputs), "a --debug traceback was looked at"
    assert any("reconnect with `connex connect" in err for _, _, err in outputs)


def test_no_secret_in_files_connex_wrote(world):
    folder, _, _, issued = world
    secrets = configured() | issued
    tokens = token_values(folder)
    assert set(p.name for p in tokens) == {"quickbooks.tokens.json", "xero.tokens.json"}
    for path in folder.rglob("*"):
        if not path.is_file() or "rules" in path.relative_to(folder).parts:
            continue
        if path.parent.name == "connex.secrets":
            assert leaks(path.read_bytes(), secrets) == [SECRETS[path.stem][path.suffix[1:]]]  # its own, only
            continue
        own = tokens.get(path, set())
        assert leaks(path.read_bytes(), secrets - own) == [], path.name
    db = folder / "connex.db"
    assert db.stat().st_size > 10_000, "the state database holds the runs"


def test_private_files_are_0600(world):
    folder, _, _, _ = world
    files = private_files(folder)
    names = {p.name for p in files}
    assert {"connex.db", "quickbooks.tokens.json", "xero.tokens.json", "quickbooks.client_secret"} <= names
    for path in files:
        assert path.stat().st_mode & 0o777 == 0o600, path


def test_demo_and_sandbox_print_no_credentials(tmp_path):
    p = subprocess.run([CONNEX, "demo"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert p.returncode == 0, p.stderr[-1000:]
    demo = tmp_path / "connex-demo"
    secrets = set(DEFAULTS) | set().union(*token_values(demo).values())
    assert len(secrets) > len(DEFAULTS)
    assert leaks(p.stdout + p.stderr, secrets) == []
    assert leaks((demo / "connex.db").read_bytes(), secrets) == []
    for path in private_files(demo):
        assert path.stat().st_mode & 0o777 == 0o600, path

    config = tmp_path / "sb" / "connex.toml"
    proc = subprocess.Popen([CONNEX, "sandbox", "--write-config", str(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    watchdog = threading.Timer(60, proc.kill)  # a hang fails the test instead of blocking the suite
    watchdog.start()
    try:
        err = ""
        while "sandbox running" not in err:  # printed once the config is written and the simulators serve
            line = proc.stderr.readline()
            assert line, f"connex sandbox exited {proc.wait()}: {err}"
            err += line
        proc.send_signal(signal.SIGTERM)
        out = proc.stdout.read()
        err += proc.stderr.read()
        proc.wait()
    finally:
        watchdog.cancel()
        proc.kill()
    assert config.exists()
    assert leaks(out + err + config.read_text(), set(DEFAULTS)) == []
    for secret_file in (tmp_path / "sb" / "connex.secrets").iterdir():
        assert secret_file.stat().st_mode & 0o777 == 0o600


def test_tls_verified_for_real_hosts(tmp_path):
    """Connectors built for the real hosts verify certificates (no network call is made here)."""
    config = tmp_path / "connex.toml"
    (tmp_path / "s.txt").write_text("s")
    config.write_text("""
[connections.shipstation]
type = "shipstation"
api_key = { file = "s.txt" }
api_secret = { file = "s.txt" }

[connections.quickbooks]
type = "quickbooks"
client_id = "id"
client_secret = { file = "s.txt" }
realm_id = "123"

[connections.xero]
type = "xero"
client_id = "id"
client_secret = { file = "s.txt" }
""")
    engine = SyncEngine(load_config(config), PluginManager().load(), store=None)  # type: ignore[arg-type]
    ss = engine.connector("shipstation")
    assert ss.client.base_url.startswith("https://") and ss.client.session.verify is True
    qb = engine.connector("quickbooks")
    assert qb.api.qb.session.verify is True
    assert qb.tokens.session.verify is True and qb.tokens.token_url.startswith("https://")
    xero = engine.connector("xero")
    api_client = xero.client.api.api_client
    assert api_client.configuration.verify_ssl is True
    pool = api_client.rest_client.pool_manager
    assert pool is xero.auth.http
    assert pool.connection_pool_kw["cert_reqs"] == "CERT_REQUIRED" and pool.connection_pool_kw["ca_certs"]
    assert xero.settings.base_url.startswith("https://")

