"""The CSV connector's four flows through ``connex run`` (a child process) with a config, against the simulators.

CSV -> QuickBooks, CSV -> Xero, CSV -> ShipStation: order files in Shopify's export layout (written by the
CSV connector's simulator, which remembers every order) in a folder; asserted on what each target holds
(every order once, its total to the cent, every line) and on the ledger. ShipStation -> CSV: orders in
the ShipStation simulator, asserted on the rows of the file the run wrote.
"""

from __future__ import annotations

import csv
import io
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from connex_core.sandbox import Fault
from connex_csv.columns import OUTPUT
from connex_csv.sim import FolderService
from tests.e2e.helpers import child_env, money, pacific, ss_order

QUICKBOOKS_OPTIONS = ('{ document = "invoice", customer_match = "email", create_customers = true, '
                      'unknown_items = "create_non_inventory" }')


def csv_config(sandbox, tasks: str) -> Path:
    """The sandbox's config (its connections, no tasks) plus two CSV connections and ``tasks``."""
    path = sandbox.write([])
    path.write_text(path.read_text() + f"""
[connections.shop-files]
type = "csv"
folder = "incoming"
store = "Shopify"
timezone = "America/Chicago"
settle_seconds = 0  # the files are written by the test just before the run

[connections.export]
type = "csv"
folder = "outgoing"
{tasks}""")
    return path


def read_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


@pytest.fixture
def files(sandbox) -> FolderService:
    return FolderService(sandbox.folder / "incoming", seed=3)


def qbo_lines(invoice: dict) -> list[tuple[str, Decimal, Decimal]]:
    return sorted((line["SalesItemLineDetail"]["ItemRef"]["name"], money(line["SalesItemLineDetail"]["Qty"]),
                   money(line["SalesItemLineDetail"]["UnitPrice"]))
                  for line in invoice["Line"] if line.get("DetailType") == "SalesItemLineDetail"
                  and line["SalesItemLineDetail"]["ItemRef"]["name"] != "Shipping")


def test_csv_to_quickbooks_books_every_order_once_with_its_total_and_lines(sandbox, files, connex):
    files.seed_orders(30, per_file=12)
    config = csv_config(sandbox, f"""
[tasks.csv-to-quickbooks]
source = "shop-files"
target = "quickbooks"
overlap_minutes = 0
target_options = {QUICKBOOKS_OPTIONS}
""")
    out = connex("run", "--config", config, "--json")
    [result] = out.json
    assert result["status"] == "ok" and result["created"] == 30, out.stdout
    invoices = {d["DocNumber"]: d for d in sandbox.quickbooks.entities("Invoice")}
    assert sorted(invoices) == sorted(files.seeded)
    for number, seeded in files.seeded.items():
        invoice = invoices[number]
        assert money(invoice["TotalAmt"]) == seeded.total, number
        assert qbo_lines(invoice) == sorted((sku, Decimal(qty), price) for sku, _, qty, price in seeded.lines)
    log = sandbox.log(task="csv-to-quickbooks")
    assert sorted(e.order_number for e in log) == sorted(files.seeded)
    assert {e.outcome for e in log} == {"created"}

    again = connex("run", "--config", config, "--json").json[0]
    assert again["read"] == 0 and again.get("created", 0) == 0  # every file read: none opened for orders again
    assert len(sandbox.quickbooks.entities("Invoice")) == 30


def test_csv_to_xero_invoices_every_order_once_with_its_total_and_lines(sandbox, files, connex):
    files.seed_orders(14, per_file=5)
    config = csv_config(sandbox, """
[tasks.csv-to-xero]
source = "shop-files"
target = "xero"
overlap_minutes = 0
""")
    out = connex("run", "--config", config, "--json")
    assert out.json[0]["created"] == 14, out.stdout
    invoices = {i["InvoiceNumber"]: i for i in sandbox.xero.invoices.values()}
    assert sorted(invoices) == sorted(files.seeded)
    for number, seeded in files.seeded.items():
        invoice = invoices[number]
        assert money(invoice["Total"]) == seeded.total, number
        goods = sorted((line["Description"], money(line["Quantity"]), money(line["UnitAmount"]))
                       for line in invoice["LineItems"] if line["AccountCode"] != "260")  # 260: the shipping line
        assert goods == sorted((name, Decimal(qty), price) for _, name, qty, price in seeded.lines), number
        assert [money(line["LineAmount"]) for line in invoice["LineItems"] if line["AccountCode"] == "260"] == \
            ([seeded.shipping] if seeded.shipping else [])
    assert sorted(e.order_number for e in sandbox.log(task="csv-to-xero", outcome="created")) == sorted(files.seeded)
    assert connex("run", "--config", config, "--json").json[0]["read"] == 0
    assert len(sandbox.xero.invoices) == 14


def test_csv_to_shipstation_creates_every_order_once_with_its_lines(sandbox, files, connex):
    files.seed_orders(9, per_file=4)
    config = csv_config(sandbox, """
[tasks.csv-to-shipstation]
source = "shop-files"
target = "shipstation"
overlap_minutes = 0
""")
    out = connex("run", "--config", config, "--json")
    assert out.json[0]["created"] == 9, out.stdout
    orders = {o["orderNumber"]: o for o in sandbox.shipstation.orders.values()}
    assert sorted(orders) == sorted(files.seeded)
    for number, seeded in files.seeded.items():
        order = orders[number]
        items = sorted((i["sku"], int(i["quantity"]), money(i["unitPrice"])) for i in order["items"])
        assert items == sorted((sku, qty, price) for sku, _, qty, price in seeded.lines), number
        assert money(order["shippingAmount"]) == seeded.shipping and money(order["taxAmount"]) == seeded.tax
        assert money(order["orderTotal"]) == seeded.total, number
        assert order["customerEmail"] == seeded.email and order["shipTo"]["postalCode"] == "78701"
    assert connex("run", "--config", config, "--json").json[0]["read"] == 0
    assert len(sandbox.shipstation.orders) == 9


def test_shipstation_to_csv_writes_every_order_once_with_every_line_and_total(sandbox, connex):
    ss = sandbox.shipstation
    made = [ss.add_order(ss_order(f"70{n:02d}", pacific(2026, 9, 16, 9 + n % 8),
                                  items=[("MUG-BLU", "Blue mug", 1 + n % 3, "12.50"), ("TEE-L", "T-shirt, large", 1, "20.00")]
                                  if n % 2 else [("CAP-RED", "Red cap, \"vintage\"", 2, "15.25")]))
            for n in range(11)]
    config = csv_config(sandbox, """
[tasks.shipstation-to-csv]
source = "shipstation"
target = "export"
""")
    # ShipStation's orders are of September 2026 (the sandbox's clock): read them by date
    out = connex("run", "--config", config, "--json", "--since", "2026-09-15")
    assert out.json[0]["created"] == 11, out.stdout
    [written] = sorted((sandbox.folder / "outgoing").glob("orders-*.csv"))
    header = written.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert tuple(header) == OUTPUT
    rows = read_rows(written)
    by_number: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_number.setdefault(row["order_number"], []).append(row)
    assert sorted(by_number) == sorted(o["orderNumber"] for o in made)
    for order in made:
        lines = by_number[order["orderNumber"]]
        assert sorted((r["sku"], r["item_name"], Decimal(r["quantity"]), Decimal(r["unit_price"])) for r in lines) == \
            sorted((i["sku"], i["name"], Decimal(i["quantity"]), money(i["unitPrice"])) for i in order["items"])
        assert {Decimal(r["total"]) for r in lines} == {money(order["orderTotal"])}
        assert {r["lines_in_order"] for r in lines} == {str(len(order["items"]))}
        assert {r["customer_email"] for r in lines} == {order["customerEmail"]}
    ledger = sandbox.log(task="shipstation-to-csv")
    assert sorted(e.order_number for e in ledger) == sorted(by_number) and {e.outcome for e in ledger} == {"created"}
    assert {e.target_id.split("#")[0] for e in ledger} == {written.name}

    again = connex("run", "--config", config, "--json", "--since", "2026-09-15")  # the same orders read again
    assert again.json[0].get("created", 0) == 0, again.stdout
    assert sum(len(read_rows(p)) for p in (sandbox.folder / "outgoing").glob("*.csv")) == len(rows)


def test_a_malformed_row_is_reported_with_file_row_and_column_the_rest_booked_and_the_fixed_order_later(
        sandbox, files, connex):
    [path] = files.seed_orders(4)
    good = path.read_text()
    rows = list(csv.reader(io.StringIO(good)))
    price = rows[0].index("Lineitem price")
    bad_row = next(n for n, row in enumerate(rows) if row[0] == "#1003")
    rows[bad_row][price] = rows[bad_row][price].replace(".", ",")  # a decimal comma, as some spreadsheets write
    path.write_text("".join(",".join(f'"{v}"' if "," in v else v for v in row) + "\n" for row in rows))
    config = csv_config(sandbox, f"""
[tasks.csv-to-quickbooks]
source = "shop-files"
target = "quickbooks"
overlap_minutes = 0
target_options = {QUICKBOOKS_OPTIONS}
""")
    out = connex("run", "--config", config, "--json", expect=5)  # that order failed: exit 5, the others booked
    assert out.json[0]["created"] == 3 and out.json[0]["failed"] == 1, out.stdout
    assert f"{path.name} row {bad_row + 1} (order 1003), column Lineitem price: " in out.stderr, out.stderr
    assert "fix the file and the next run reads it" in out.stderr
    assert sorted(d["DocNumber"] for d in sandbox.quickbooks.entities("Invoice")) == ["1001", "1002", "1004"]
    [failed] = sandbox.log(task="csv-to-quickbooks", outcome="failed")  # the transaction log names file, row, column
    assert failed.order_number == "1003" and f"row {bad_row + 1}" in failed.reason and "Lineitem price" in failed.reason

    still = connex("run", "--config", config, "--json", expect=5)  # not fixed: failed again, nothing booked twice
    assert still.json[0].get("created", 0) == 0 and still.json[0]["failed"] == 1 and "(order 1003)" in still.stderr
    path.write_text(good)
    fixed = connex("run", "--config", config, "--json")
    assert fixed.json[0]["created"] == 1 and "order 1003" not in fixed.stderr, fixed.stdout
    invoices = {d["DocNumber"]: d for d in sandbox.quickbooks.entities("Invoice")}
    assert sorted(invoices) == ["1001", "1002", "1003", "1004"]
    assert money(invoices["1003"]["TotalAmt"]) == files.seeded["1003"].total
    assert sorted(e.order_number for e in sandbox.log(task="csv-to-quickbooks", outcome="created")) == sorted(invoices)


def test_a_run_killed_mid_file_loses_nothing_and_the_next_books_every_order_once(sandbox, files, connex):
    files.seed_orders(90, per_file=90)
    config = csv_config(sandbox, """
[tasks.csv-to-xero]
source = "shop-files"
target = "xero"
overlap_minutes = 0
""")
    # Xero takes a batch of invoices per call; slow every call down so the kill lands between two of them
    sandbox.xero.faults.add(Fault(kind="slow", delay=1.0, methods=("PUT", "POST"), path="/Invoices"))
    proc = subprocess.Popen([sys.executable, "-m", "connex_core", "run", "--config", str(config)], cwd=sandbox.folder,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=child_env())
    try:
        deadline = time.monotonic() + 60
        while not sandbox.xero.invoices and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
    booked = len(sandbox.xero.invoices)
    assert 0 < booked < 90, f"the kill did not land mid-run ({booked} invoices)"
    sandbox.xero.faults.clear()

    out = connex("run", "--config", config, "--json")
    assert out.json[0]["status"] == "ok", out.stdout
    numbers = sorted(i["InvoiceNumber"] for i in sandbox.xero.invoices.values())
    assert numbers == sorted(files.seeded), "an order was lost or booked twice"
    for invoice in sandbox.xero.invoices.values():
        assert money(invoice["Total"]) == files.seeded[invoice["InvoiceNumber"]].total
    assert connex("run", "--config", config, "--json").json[0]["read"] == 0
