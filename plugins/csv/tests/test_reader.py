"""Order files to canonical orders: header detection, values, time zones, and malformed rows named precisely."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from connex_core.api import OrderStatus
from connex_csv import CsvSettings
from connex_csv.reader import FileError, RowError, read_orders
from connex_csv.sim.folder import SHOPIFY_HEADER, SeededOrder, shopify_rows
from connex_csv.writer import to_csv

SEEN = datetime(2026, 9, 20, 12, 0, tzinfo=timezone.utc)


def settings(**values) -> CsvSettings:
    return CsvSettings.model_validate({"folder": "in", **values})


def read(text: str, **values):
    items = list(read_orders("orders.csv", text.encode("utf-8"), settings(**values), SEEN))
    orders = {i.number: i for i in items if not isinstance(i, (RowError, FileError))}
    return orders, [i for i in items if isinstance(i, (RowError, FileError))]


def shopify(*orders: SeededOrder) -> str:
    return to_csv([list(SHOPIFY_HEADER)] + [row for o in orders for row in shopify_rows(o)])


def seeded(number: str, lines, shipping="4.95", tax="1.00") -> SeededOrder:
    lines = [(sku, name, qty, Decimal(price)) for sku, name, qty, price in lines]
    total = sum((p * q for _, _, q, p in lines), Decimal(0)) + Decimal(shipping) + Decimal(tax)
    return SeededOrder(number, lines, Decimal(shipping), Decimal(tax), total,
                       datetime(2026, 9, 15, 23, 30, tzinfo=timezone(timedelta(hours=-4))), f"b{number}@shop.test")


def test_a_shopify_export_is_recognised_with_order_values_on_the_first_row_only():
    a = seeded("1001", [("MUG-BLU", "Blue mug", 2, "12.50"), ("TEE-L", "T-shirt, large", 1, "20.00")])
    b = seeded("1002", [("CAP-RED", "Red cap", 3, "15.25")], shipping="0.00", tax="0.00")
    orders, problems = read(shopify(a, b), store="Shopify")
    assert problems == [] and sorted(orders) == ["1001", "1002"]  # '#1001' is order 1001
    one = orders["1001"]
    assert [(l.sku, l.name, l.quantity, l.unit_price) for l in one.lines] == \
        [("MUG-BLU", "Blue mug", Decimal("2"), Decimal("12.50")), ("TEE-L", "T-shirt, large", Decimal("1"), Decimal("20.00"))]
    assert (one.shipping, one.tax, one.total) == (Decimal("4.95"), Decimal("1.00"), Decimal("50.95"))
    assert isinstance(one.total, Decimal) and one.currency == "USD" and one.store == "Shopify"
    assert one.paid and one.amount_paid == one.total and one.status == OrderStatus.awaiting_shipment
    assert one.order_date == a.created and one.order_date.utcoffset() == timedelta(hours=-4)
    assert one.modified_at == SEEN and one.key == "csv:1001"
    assert one.customer.email == "b1001@shop.test" and one.ship_to.postal_code == "78701" and one.ship_to.name == "Buyer 1001"
    assert orders["1002"].total == Decimal("45.75")


def test_dates_without_an_offset_are_in_the_connections_time_zone_and_a_format_can_be_given():
    text = "order_number,order_date,sku,quantity,unit_price\n7,2026-09-15 23:30,MUG,1,5.00\n"
    orders, _ = read(text, timezone="America/Chicago")
    assert orders["7"].order_date == datetime(2026, 9, 16, 4, 30, tzinfo=timezone.utc)
    orders, _ = read(text.replace("2026-09-15 23:30", "15/09/2026"), date_format="%d/%m/%Y", timezone="Europe/Paris")
    assert orders["7"].order_date == datetime(2026, 9, 14, 22, 0, tzinfo=timezone.utc)


def test_the_columns_setting_names_headers_detection_does_not_know():
    text = "Ref;Units;Each;Article\nA-1;2;3,50;Mug\n".replace("3,50", "3.50")
    orders, problems = read(text, delimiter=";", columns={"order_number": "Ref", "quantity": "Units",
                                                          "unit_price": "Each", "item_name": "Article"})
    assert problems == [] and orders["A-1"].lines[0].amount == Decimal("7.00")
    _, [problem] = read(text, delimiter=";")
    assert isinstance(problem, FileError) and "order_number" in str(problem) and "columns setting" in str(problem)


def test_an_unknown_column_name_in_the_settings_is_refused():
    with pytest.raises(ValueError, match="unknown column 'order_no'"):
        settings(columns={"order_no": "Ref"})
    with pytest.raises(ValueError, match="not a time zone"):
        settings(timezone="Mars/Olympus")


def test_a_malformed_value_fails_its_order_naming_file_row_and_column_and_the_others_are_read():
    text = shopify(seeded("1001", [("MUG-BLU", "Blue mug", 2, "12.50")]),
                   seeded("1002", [("CAP-RED", "Red cap", 1, "15.25"), ("TEE-L", "T-shirt", 1, "20.00")]),
                   seeded("1003", [("SOCK-3", "Socks", 1, "9.99")]))
    text = text.replace(",20.00,TEE-L", ",twenty,TEE-L")  # row 4: order 1002's second line
    orders, [problem] = read(text)
    assert sorted(orders) == ["1001", "1003"]
    assert (problem.file, problem.row, problem.column, problem.order_number) == ("orders.csv", 4, "Lineitem price", "1002")
    assert str(problem) == "orders.csv row 4 (order 1002), column Lineitem price: 'twenty' is not an amount"


@pytest.mark.parametrize("bad, column, message", [
    ("2026-13-45", "order_date", "'2026-13-45' is not a date"),
    ("nan", "quantity", "'nan' is not a number"),
    ("maybe", "paid", "'maybe' is not true or false"),
    ("lost", "status", "'lost' is not an order status"),
])
def test_each_kind_of_bad_value_is_named(bad, column, message):
    values = {"order_date": "2026-09-15", "quantity": "1", "paid": "yes", "status": "shipped", column: bad}
    text = ("order_number,sku,unit_price," + ",".join(values) + "\n" + "9,MUG,5.00," + ",".join(values.values()) + "\n"
            "10,MUG,5.00,2026-09-15,1,yes,shipped\n")
    orders, [problem] = read(text)
    assert list(orders) == ["10"] and problem.row == 2 and problem.column == column and message in problem.message


def test_rows_of_one_order_that_disagree_fail_it_at_the_row_that_differs():
    text = ("order_number,sku,quantity,unit_price,total\n5,A,1,10.00,15.00\n6,A,1,1.00,1.00\n5,B,1,5.00,16.00\n")
    orders, [problem] = read(text)
    assert list(orders) == ["6"]
    assert (problem.row, problem.column) == (4, "total") and "differs from row 2" in problem.message


def test_a_row_without_an_order_number_or_a_line_without_sku_and_name_is_reported():
    text = "order_number,sku,item_name,quantity,unit_price\n,A,,1,1.00\n8,,,1,1.00\n9,B,,1,2.00\n"
    orders, problems = read(text)
    assert list(orders) == ["9"]
    assert [(p.row, p.column) for p in problems] == [(2, "order_number"), (3, "sku")]
    assert "no order number" in problems[0].message and "neither a SKU nor an item name" in problems[1].message


def test_totals_default_to_lines_shipping_and_tax_and_payment_follows_what_the_file_says():
    text = ("order_number,sku,quantity,unit_price,line_tax,shipping,amount_paid\n"
            "1,A,2,10.00,1.60,5.00,0\n2,B,1,3.00,0,0,3.00\n")
    orders, _ = read(text)
    assert orders["1"].total == Decimal("26.60") and orders["1"].tax == Decimal("1.60")
    assert not orders["1"].paid and orders["1"].status == OrderStatus.awaiting_payment
    assert orders["2"].paid and orders["2"].amount_paid == Decimal("3.00")


def test_a_byte_order_mark_and_text_that_is_not_utf8_are_handled():
    data = "\ufefforder_number,sku,quantity,unit_price\n1,A,1,2.00\n".encode("utf-8")
    [order] = read_orders("bom.csv", data, settings(), SEEN)
    assert order.number == "1"
    [problem] = read_orders("latin.csv", "order_number,sku,quantity,unit_price\n1,Café,1,2.00\n".encode("latin-1"),
                            settings(), SEEN)
    assert isinstance(problem, FileError) and "not utf-8-sig text" in str(problem) and "encoding" in str(problem)


@pytest.mark.parametrize("value, amount", [("1,234.50", "1234.50"), ("$12.50", "12.50"), ("12", "12"), (".5", "0.5"),
                                           ("12,50", None), ("1,2345.00", None), ("12.5.0", None), ("", "0")])
def test_amounts_take_thousands_separators_and_refuse_a_decimal_comma(value, amount):
    cell = f'"{value}"' if "," in value else value
    orders, problems = read(f"order_number,sku,quantity,unit_price,shipping\n1,A,1,1.00,{cell}\n")
    if amount is None:
        [problem] = problems
        assert problem.column == "shipping" and f"{value!r} is not an amount" in problem.message
    else:
        assert orders["1"].shipping == Decimal(amount)


def test_an_etsy_sold_order_items_export_is_recognised():
    text = ("Sale Date,Item Name,Buyer,Quantity,Price,Discount Amount,Order Shipping,Order Sales Tax,Currency,"
            "Ship Name,Ship Address1,Ship City,Ship State,Ship Zipcode,Ship Country,Order ID,SKU\n"
            "09/15/2026,Blue mug,ana,2,12.50,0,4.00,2.00,EUR,Ana,1 Rue,Lyon,,69001,FR,3301,MUG-BLU\n"
            "09/15/2026,Red cap,ana,1,15.25,0,4.00,2.00,EUR,Ana,1 Rue,Lyon,,69001,FR,3301,CAP-RED\n")
    orders, problems = read(text, timezone="Europe/Paris")
    assert problems == []
    [order] = orders.values()
    assert order.number == "3301" and order.currency == "EUR" and order.customer.name == "ana"
    assert [(l.sku, l.name, l.quantity, l.unit_price) for l in order.lines] == [
        ("MUG-BLU", "Blue mug", Decimal("2"), Decimal("12.50")), ("CAP-RED", "Red cap", Decimal("1"), Decimal("15.25"))]
    assert (order.shipping, order.tax, order.total) == (Decimal("4.00"), Decimal("2.00"), Decimal("46.25"))
    assert order.order_date == datetime(2026, 9, 14, 22, 0, tzinfo=timezone.utc)  # midnight in Paris
    assert (order.ship_to.city, order.ship_to.postal_code, order.ship_to.country) == ("Lyon", "69001", "FR")
