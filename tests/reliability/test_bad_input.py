"""Bad input: malformed API answers from each simulator, and broken configs.

A malformed answer (an empty 200, cut-off JSON, a proxy's HTML 502 page or the same with status
200, an empty object, a list, wrong types, a record missing its fields or with wrong types) is
either retried away (once) or, when it persists,
ends the task with an error that names the service and what came back, never a KeyError or
JSONDecodeError; what earlier tasks and batches wrote stays, and a rerun finishes with nothing twice.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from connex_core.config import load_config
from connex_core.demo import default_rules_dir
from connex_core.engine import SyncEngine
from connex_core.errors import ConnexError
from connex_core.plugins import PluginManager
from connex_core.sandbox import Fault, SimClock
from connex_core.sandbox.runner import build_sandbox, write_config
from connex_core.state import LogQuery, SQLiteStore

from .harness import HTML_502

CONNEX = str(Path(sys.executable).with_name("connex"))
BODIES = {
    "empty 200": (200, b""),
    "truncated JSON": (200, b'{"orders": [{"orderId": 1'),
    "HTML 502": (502, HTML_502),
    "HTML with 200": (200, HTML_502),
    "empty object": (200, b"{}"),
    "a list": (200, b"[]"),
    "wrong types": (200, b'{"orders": "x", "pages": "b", "QueryResponse": "x", "BatchItemResponse": "x", '
                         b'"Invoices": 5}'),
    # well-formed pages holding one record that lacks its fields, or has them of the wrong types
    "a record missing fields": (200, b'{"orders": [{"orderNumber": "X-1"}], "page": 1, "pages": 1, '
                                     b'"QueryResponse": {"Invoice": [{"Id": "77"}]}, '
                                     b'"BatchItemResponse": [{"bId": "x"}], '
                                     b'"Invoices": [{"InvoiceNumber": "X"}], "hasErrors": false, "results": [{}]}'),
    "a record of wrong types": (200, b'{"orders": [{"orderId": "abc", "orderNumber": 5, "orderDate": "yesterday", '
                                     b'"orderTotal": "lots", "items": "none"}], "page": 1, "pages": 1, '
                                     b'"QueryResponse": {"Invoice": [{"Id": "77", "TotalAmt": "lots", '
                                     b'"Line": "none"}]}, "BatchItemResponse": [{"bId": 5, "Invoice": "x"}], '
                                     b'"hasErrors": "no", "results": 3, "Invoices": [{"InvoiceID": "i1", '
                                     b'"Total": "lots", "LineItems": "none", "Contact": "bob"}]}'),
}
#: (simulator, method, path, task whose run meets it, service name in messages)
ENDPOINTS = {
    "ShipStation orders listing": ("shipstation", "GET", r"^/orders$", "shipstation-to-xero", "ShipStation"),
    "ShipStation createorders": ("shipstation", "POST", r"createorders$", "quickbooks-to-shipstation", "ShipStation"),
    "QuickBooks query": ("quickbooks", "", r"/query$", "quickbooks-to-shipstation", "QuickBooks"),
    "QuickBooks batch": ("quickbooks", "POST", r"/batch$", "shipstation-to-quickbooks", "QuickBooks"),
    "Xero invoices listing": ("xero", "GET", r"/Invoices$", "xero-to-shipstation", "Xero"),
    "Xero invoices create": ("xero", "PUT", r"/Invoices$", "shipstation-to-xero", "Xero"),
}
NOT_CLEAR = ("KeyError", "TypeError", "AttributeError", "JSONDecodeError", "NoneType", "Traceback")


#: Ids of the records that exist only in the malformed answers above (a rerun may keep failing them).
PHANTOMS = {"Invoice-77", "abc", "i1"}


def settled(store, task: str) -> bool:
    """Nothing of ``task`` is left to retry, except records that only a malformed answer ever held."""
    return all(e.source_key.rsplit(":", 1)[-1] in PHANTOMS for e in store.ledger_retry_queue(task))


def clear(message: str) -> bool:
    """Names the service (source or target) and, when it shows a Python error, says what it was about."""
    named = any(service in message.lower() for service in ("shipstation", "quickbooks", "xero"))
    explained = "could not read" in message or not any(word in message for word in NOT_CLEAR)
    return named and explained and "Traceback" not in message


@pytest.fixture(scope="module")
def manager():
    return PluginManager().load()


@pytest.fixture
def world(tmp_path, manager):
    shutil.copytree(default_rules_dir(), tmp_path / "rules")
    clock = SimClock(speed=2000)
    server = build_sandbox(manager, clock=clock, seed=4)
    with server:
        for service in server.services.values():
            service.seed(10)
        cfg = load_config(write_config(server, tmp_path / "connex.toml"))
        store = SQLiteStore(cfg.state_path)
        engine = SyncEngine(cfg, manager, store, connector_options={"clock": clock})
        yield server, engine, store
        engine.close()
        store.close()


@pytest.fixture(scope="module")
def clean_counts(tmp_path_factory, manager):
    """``clean_counts(task)``: the ledger's counts after the task ran once in the same world with no fault
    (what "every order ends up in its target once" means, order by order)."""
    cache: dict[str, dict[str, int]] = {}

    def counts(task: str) -> dict[str, int]:
        if task not in cache:
            tmp = tmp_path_factory.mktemp("clean")
            shutil.copytree(default_rules_dir(), tmp / "rules")
            clock = SimClock(speed=2000)
            with build_sandbox(manager, clock=clock, seed=4) as server:
                for service in server.services.values():
                    service.seed(10)
                cfg = load_config(write_config(server, tmp / "connex.toml"))
                store = SQLiteStore(cfg.state_path)
                engine = SyncEngine(cfg, manager, store, connector_options={"clock": clock})
                assert engine.run_task(task).status == "ok"
                cache[task] = store.ledger_counts(task)
                engine.close()
                store.close()
        return cache[task]

    return counts


def fault(endpoint: str, body: str, times) -> tuple[str, Fault]:
    service, method, path, _, _ = ENDPOINTS[endpoint]
    status, payload = BODIES[body]
    return service, Fault("error", status=status, body=payload, methods=(method,) if method else (), path=path,
                          times=times)


def identities(server) -> Counter:
    """Every document the targets hold, by its identity: a count above 1 is a duplicate."""
    ss, qb, xero = (server.services[n] for n in ("shipstation", "quickbooks", "xero"))
    seen: Counter = Counter(("ss", o["orderKey"]) for o in ss.orders.values())
    seen.update(("qb", e, d["DocNumber"]) for e in ("Invoice", "SalesReceipt") for d in qb.entities(e))
    seen.update(("xero", i["InvoiceNumber"]) for i in xero.invoices.values() if i.get("Status") != "DELETED")
    return seen


def run_or_error(engine, store, task: str):
    """Run a task; a failure must be a ConnexError, or failed orders, whose message names the service plainly."""
    try:
        summary = engine.run_task(task)
    except ConnexError as exc:
        message = str(exc)
    else:
        if not summary.counts["failed"]:
            return summary
        message = store.query_log(LogQuery(task=task, outcome="failed"))[0].message
    assert clear(message), message
    return None


@pytest.mark.parametrize("body", list(BODIES))
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_a_malformed_answer_once_is_retried(world, endpoint, body, clean_counts):
    """Retried in the run (reads and writes: the client, or the engine's reconcile-and-retry of a batch),
    or by the next run after a clear message; either way every order ends up in its target once."""
    server, engine, store = world
    task = ENDPOINTS[endpoint][3]
    service, f = fault(endpoint, body, times=1)
    server.services[service].faults.add(f)
    first = run_or_error(engine, store, task)
    assert f.times == 0, "the malformed answer was served"
    summary = first or engine.run_task(task)
    assert summary.status == "ok" and settled(store, task), summary.as_dict()
    # every order: as many done (and skipped) as when nothing went wrong, none of them twice in the target
    expected = clean_counts(task)
    counts = store.ledger_counts(task)
    assert expected.get("done", 0) > 0
    assert (counts.get("done", 0), counts.get("skipped", 0)) == (expected.get("done", 0), expected.get("skipped", 0))
    assert max(identities(server).values()) == 1


@pytest.mark.parametrize("body", list(BODIES))
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_a_malformed_answer_that_persists_is_a_clear_error_and_a_rerun_finishes(world, endpoint, body):
    server, engine, store = world
    task = ENDPOINTS[endpoint][3]
    engine.run_task("quickbooks-to-shipstation" if task != "quickbooks-to-shipstation" else "xero-to-shipstation")
    before = identities(server)
    service, f = fault(endpoint, body, times=None)
    server.services[service].faults.add(f)
    assert run_or_error(engine, store, task) is None, "a task that never got a good answer cannot succeed"
    assert identities(server) >= before, "what earlier runs wrote is still there"
    server.services[service].faults.clear()
    rerun = engine.run_task(task)
    assert rerun.status == "ok" and settled(store, task), rerun.as_dict()
    assert max(identities(server).values()) == 1


def test_one_task_meeting_bad_answers_does_not_stop_the_others(tmp_path, manager):
    """`connex run`: the task whose API keeps answering HTML fails with a message; the others run (exit 6)."""
    shutil.copytree(default_rules_dir(), tmp_path / "rules")
    with build_sandbox(manager, clock=SimClock(), seed=4) as server:
        for service in server.services.values():
            service.seed(4)
        config = write_config(server, tmp_path / "connex.toml", tasks=[
            ("xero-to-shipstation", {"source": "xero", "target": "shipstation",
                                     "rules": ["rules/xero-to-shipstation.rules"]}),
            ("quickbooks-to-shipstation", {"source": "quickbooks", "target": "shipstation"})])
        server.services["xero"].faults.add(Fault("error", status=200, body=HTML_502, path=r"/Invoices$"))
        p = subprocess.run([CONNEX, "run", "--config", str(config)], capture_output=True, text=True, cwd=tmp_path,
                           timeout=120)
    assert p.returncode == 6, p.stderr
    said = "xero-to-shipstation: error: Xero: list invoices (page 1): answered 200 with a body that is not a JSON"
    assert said in p.stdout
    assert "quickbooks-to-shipstation: read 4, created 4" in p.stdout
    assert not any(word in p.stdout + p.stderr for word in NOT_CLEAR)


CONNECTIONS = """
[connections.shipstation]
type = "shipstation"
api_key = { file = "ss.key" }
api_secret = { file = "ss.secret" }
base_url = "http://127.0.0.1:9/shipstation"

[connections.quickbooks]
type = "quickbooks"
client_id = "id"
client_secret = { file = "qb.secret" }
realm_id = "1"
base_url = "http://127.0.0.1:9/quickbooks"
token_url = "http://127.0.0.1:9/token"
"""
BASE = CONNECTIONS + """
[tasks.t]
source = "shipstation"
target = "quickbooks"
"""


def write_secret_files(folder: Path) -> None:
    """The secret files CONNECTIONS refers to (secrets are given by reference, never inline)."""
    for name, value in (("ss.key", "k"), ("ss.secret", "s"), ("qb.secret", "s")):
        (folder / name).write_text(value + "\n")


KEY = 'api_key = { file = "ss.key" }'
SECRET = 'api_secret = { file = "ss.secret" }'


@pytest.mark.parametrize("old,new,expected", [
    (SECRET, SECRET + '\ntimout = 5', "connections.shipstation.timout: unknown key"),
    (SECRET, SECRET + '\ntimeout = "fast"',
     "connections.shipstation.timeout: Input should be a valid number"),
    (KEY + "\n", "", "connections.shipstation.api_key: required key is missing"),
    (KEY, "api_key = 12345", "connections.shipstation.api_key: Input should be a valid string"),
    (KEY, 'api_key = "k-inline-1234"', "connections.shipstation.api_key: a secret cannot be written inline in "
     "the config; give it by reference, from an environment variable: api_key = { env = \"SHIPSTATION_API_KEY\" }, "
     "or from a file readable only by you: api_key = { file = \"secrets/shipstation.api_key\" }"),
    ('target = "quickbooks"', 'target = "quickbooks"\nkind = "weekly"',
     "tasks.t.kind: 'weekly' is not one of orders, tracking, daily_summary"),
    (KEY, 'api_key = { env = "NOPE_KEY" }',
     "connections.shipstation.api_key: environment variable NOPE_KEY is not set"),
    (KEY, 'api_key = { file = "nope.txt" }', "connections.shipstation.api_key: cannot read secret file"),
    ('target = "quickbooks"', 'target = "quickbok"',
     "no connection named 'quickbok' (connections: quickbooks, shipstation)"),
    ('type = "shipstation"', 'type = "shipstaton"', "connections.shipstation.type: no connector named 'shipstaton'"),
    (SECRET, 'api_secret = "s', "not valid TOML: Illegal character '\\n' (at line 5, column 16)"),
])
def test_a_broken_config_names_the_key_and_what_was_expected(tmp_path, old, new, expected):
    assert old in BASE
    write_secret_files(tmp_path)
    (tmp_path / "connex.toml").write_text(BASE.replace(old, new, 1))
    p = subprocess.run([CONNEX, "run", "--dry-run", "--config", str(tmp_path / "connex.toml")], capture_output=True,
                       text=True, cwd=tmp_path, timeout=60)
    assert p.returncode == 4
    assert expected in p.stderr
    assert "Traceback" not in p.stderr and p.stderr.count("\n") == 1


@pytest.mark.parametrize("task,expected", [
    ('source = "shipstation"\ntarget = "quickbooks"\nsource_options = { status = "shiped" }',
     "tasks.t.source_options.status: 'shiped' is not one of awaiting_payment,"),
    ('source = "quickbooks"\ntarget = "shipstation"\nsource_options = { page_size = 5000 }',
     "tasks.t.source_options.page_size: Input should be less than or equal to 1000"),
])
def test_a_bad_task_option_names_its_full_key(tmp_path, task, expected):
    """Connectors check their own options; the message still names the task the option belongs to."""
    write_secret_files(tmp_path)
    (tmp_path / "connex.toml").write_text(CONNECTIONS + "\n[tasks.t]\n" + task + "\n")
    p = subprocess.run([CONNEX, "run", "--dry-run", "--config", str(tmp_path / "connex.toml")], capture_output=True,
                       text=True, cwd=tmp_path, timeout=60)
    assert p.returncode == 4, p.stderr
    assert expected in p.stderr
