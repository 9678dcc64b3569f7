"""Orders into QuickBooks in few calls: look up, create what is missing, post, pay.

For the engine's batch of orders (:attr:`QuickBooksConnector.write_batch_size`, 120; each ``/batch`` holds 30):

1. one ``/batch`` of ``IN`` queries: DocNumbers already used (duplicates), customers, items,
   class, location, accounts and payment methods by name;
2. one ``/batch`` creating the missing customers and items (as the task allows);
3. one ``/batch`` creating the SalesReceipts / Invoices;
4. one ``/batch`` creating a Payment for each paid invoice.

The customers and items created in step 2 (not those found, nor one another process created meanwhile) are
reported on the results of the orders that use them (``WriteResult.created``), each once: one created by a
call that then failed (a lost answer) is reported by the next write that uses it.

Every write batch carries a ``requestid`` derived from the ledger's idempotency keys, so a retry
after a lost answer replays instead of posting twice. One order's problem (an item to map, a
Fault on its document) becomes its own failed :class:`~connex_core.connector.WriteResult`; the
others go on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from connex_core.api import countries
from connex_core.api import Created, Found, OrderWrite, WriteResult
from connex_core.api import RetriableAPIError
from connex_core.api import LineItem, Order
from connex_core.api import unknown_sku_note

from . import mapping, names, resolve, taxes
from .client import BATCH_LIMIT, QuickBooksAPI, QuickBooksFault, item_error
from .options import TargetOptions
from .requestids import RequestIds

TXN_ENTITIES = ("SalesReceipt", "Invoice")
REF_ENTITIES = {"ClassRef": "Class", "DepartmentRef": "Department", "DepositToAccountRef": "Account",
                "PaymentMethodRef": "PaymentMethod"}


def clean_name(text: str, limit: int) -> str:
    """A QuickBooks name: no colon (it separates sub-customers and sub-items), trimmed to ``limit``."""
    return " ".join(text.replace(":", "-").split())[:limit]


@dataclass
class _Plan:
    write: OrderWrite
    opts: TargetOptions
    entity: str
    number: str
    customer: tuple[str, str]
    customer_body: dict[str, Any]
    items: list[Optional[tuple[str, str]]]
    item_bodies: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    shipping_key: Optional[tuple[str, str]] = None
    """The Shipping service item, when the company does not allow the built-in shipping line."""
    refs: dict[str, str] = field(default_factory=dict)
    tax: Optional[taxes.TaxPlan] = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def order(self) -> Order:
        return self.write.order


def _clash(error: QuickBooksFault) -> bool:
    return error.code == "6240"


def _name_field(key: tuple[str, str, str]) -> str:
    return "DisplayName" if key[0] == "Customer" else "Name"


class OrderWriter:
    """Writes canonical orders as QuickBooks documents (see the module docstring for the calls)."""

    def __init__(self, api: QuickBooksAPI, realm: str, company: taxes.Company, ids: RequestIds,
                 made: Optional[dict[tuple[str, str], Created]] = None):
        self.api, self.realm, self.ids, self.company = api, realm, ids, company
        self.made = made if made is not None else {}
        """(entity, Id) -> what was created and not yet reported on an order's result (the connector keeps it)."""
        sales_prefs = company.preferences.get("SalesFormsPrefs") or {}
        self.allow_shipping = bool(sales_prefs.get("AllowShipping"))
        self.custom_numbers = sales_prefs.get("CustomTxnNumbers", True) is not False

    # -- duplicate detection -----------------------------------------------------------------------
    def find(self, writes: list[OrderWrite]) -> dict[str, Found]:
        """Documents already in QuickBooks with the orders' DocNumbers (either document type).

        When the company numbers its documents itself (CustomTxnNumbers off), a DocNumber says
        nothing about an order, so nothing is looked up: the ``requestid`` is the only guard.
        """
        if not self.custom_numbers:
            return {}
        wanted: resolve.Wanted = {}
        for w in writes:
            for entity in TXN_ENTITIES:
                resolve.want(wanted, entity, "DocNumber", mapping.doc_number(w.order.number))
        found = resolve.lookup(self.api, wanted) if wanted else {}
        hits = {}
        for w in writes:
            if (hit := self._existing(found, w.order, w.replaces)) is not None:
                entity, doc = self._document(found, w.order)
                if (amount := self._payment_due(w, entity, doc)) is not None:
                    hit.missing = f"payment of {amount}"
                hits[w.key] = hit
        return hits

    def _document(self, found: resolve.Found, order: Order) -> tuple[str, Optional[dict[str, Any]]]:
        number = mapping.doc_number(order.number)
        for entity in TXN_ENTITIES:
            doc = resolve.get(found, entity, "DocNumber", number)
            if doc:
                return entity, doc
        return "", None

    def _existing(self, found: resolve.Found, order: Order, replaces: Optional[str] = None) -> Optional[Found]:
        """The document already booked under the order's DocNumber; not ``replaces`` (voided: by connex undo, or by hand)."""
        if not self.custom_numbers:
            return None
        entity, doc = self._document(found, order)
        if doc is None or mapping.target_ref(entity, doc["Id"]) == replaces:
            return None
        return Found(target_id=mapping.target_ref(entity, doc["Id"]), target_number=doc.get("DocNumber"),
                     description=f"{entity} {doc.get('DocNumber')} ({doc.get('TotalAmt')})")

    @staticmethod
    def _payment_due(write: OrderWrite, entity: str, doc: Optional[dict[str, Any]]) -> Optional[Any]:
        """The payment an invoice found in QuickBooks still lacks: the order paid something, the task posts
        payments, and nothing of the invoice is paid (the unit posts one payment, so any payment is it)."""
        if entity != "Invoice" or doc is None:
            return None
        opts = TargetOptions.parse(write.options, "target_options")
        paid = mapping.amount_to_pay(write.order)
        total = mapping.money(doc.get("TotalAmt", 0))
        if paid <= 0 or not opts.create_payments or mapping.money(doc.get("Balance", 0)) < total or total <= 0:
            return None
        return total if paid == mapping.money(write.order.total) else min(paid, total)

    def follow_ups(self, items: list[tuple[OrderWrite, Found]]) -> list[WriteResult]:
        """Complete bookings found without their payment (a crash between the invoice and its payment):
        the invoices are read again (one look-up), and each still unpaid one gets its payment, in batches
        whose ``requestid`` is their own (purpose "payment-completion"), so a lost answer replays."""
        writes = [w for w, _ in items]
        wanted: resolve.Wanted = {}
        for w in writes:
            resolve.want(wanted, "Invoice", "DocNumber", mapping.doc_number(w.order.number))
        found = resolve.lookup(self.api, wanted)
        results: dict[str, WriteResult] = {}
        due = []
        for w, hit in items:
            _, doc = self._document(found, w.order)
            if doc is None or mapping.target_ref("Invoice", doc["Id"]) != hit.target_id:
                results[w.key] = WriteResult(w.key, ok=False, retriable=True, error=f"invoice {hit.target_number} "
                                             "changed in QuickBooks since it was found")
                continue
            amount = self._payment_due(w, "Invoice", doc)
            result = WriteResult(w.key, ok=True, target_id=hit.target_id, target_number=doc.get("DocNumber"))
            results[w.key] = result
            if amount is None:
                result.note = "payment already recorded"
            else:
                opts = TargetOptions.parse(w.options, "target_options")
                refs = {r: n for r, n in (("DepositToAccountRef", w.order.deposit_account or opts.deposit_account),
                                          ("PaymentMethodRef", w.order.payment_method or opts.payment_method)) if n}
                due.append((w, doc, amount, refs))
        names_wanted: resolve.Wanted = {}
        for *_, refs in due:
            for ref, name in refs.items():
                resolve.want(names_wanted, REF_ENTITIES[ref], "Name", name)
        named = resolve.lookup(self.api, names_wanted) if names_wanted else {}
        for start in range(0, len(due), BATCH_LIMIT):
            chunk = due[start:start + BATCH_LIMIT]
            items_ = []
            for n, (w, doc, amount, refs) in enumerate(chunk):
                rows = {ref: resolve.get(named, REF_ENTITIES[ref], "Name", name) for ref, name in refs.items()}
                ref_ids = {ref: {"value": row["Id"], "name": row.get("Name", refs[ref])} for ref, row in rows.items() if row}
                items_.append({"bId": f"m{n}", "operation": "create", "Payment": mapping.payment_body(doc, ref_ids, amount)})
            rid = self.ids.get(self.realm, "payment-completion", [w.idempotency_key for w, *_ in chunk])
            answers = self._batch(items_, rid)
            for n, (w, _, amount, _) in enumerate(chunk):
                answer = answers.get(f"m{n}", {})
                error = item_error(answer)
                if error is None and "Payment" in answer:
                    results[w.key].note = f"payment {answer['Payment']['Id']} of {amount} recorded"
                else:
                    error = error or QuickBooksFault("", "no answer for this payment in the batch")
                    results[w.key] = WriteResult(w.key, ok=False, retriable=True,
                                                 error=f"the invoice's payment of {amount} was not recorded: {error}")
        return [results[w.key] for w in writes]

    # -- planning --------------------------------------------------------------------------------
    def _plan(self, write: OrderWrite) -> _Plan:
        opts = TargetOptions.parse(write.options, "target_options")
        order = write.order
        field_, value, body = self._customer_key(order, opts)
        plan = _Plan(write=write, opts=opts, entity=mapping.document_entity(order, opts.document),
                     number=mapping.doc_number(order.number), customer=(field_, value), customer_body=body,
                     items=[self._item_key(line, opts) for line in order.lines])
        plan.tax = taxes.plan(order, self.company, opts.tax_codes)
        plan.problems += countries.order_problems(order) + plan.tax.problems
        if refusal := mapping.receipt_refusal(order, plan.entity):
            plan.problems.insert(0, refusal)
        for line, key, code in zip(order.lines, plan.items, plan.tax.lines):
            if key is not None:
                plan.item_bodies[key] = self._item_body(line, key, opts, code if self.company.global_model else None)
            elif not line.adjustment:
                plan.problems.append(f"line {line.line_id or '?'} has neither a SKU nor a name to match an item by")
        if order.shipping > 0 and (order.shipping_item or not self.allow_shipping):
            # a rule's choice (order.shipping_item) wins over the company's built-in shipping line
            plan.shipping_key = ("Name", clean_name(order.shipping_item or opts.shipping_item, 100))
            plan.item_bodies[plan.shipping_key] = {"Name": plan.shipping_key[1], "Type": "Service", "Description": "Shipping"}
            if self.company.global_model and plan.tax.shipping:
                plan.item_bodies[plan.shipping_key].update(SalesTaxCodeRef={"value": plan.tax.shipping},
                                                           SalesTaxIncluded=opts.tax_inclusive)
        for ref, name in (("ClassRef", order.class_name), ("DepartmentRef", order.location),
                          ("DepositToAccountRef", order.deposit_account or opts.deposit_account),
                          ("PaymentMethodRef", order.payment_method or opts.payment_method)):
            if name:
                plan.refs[ref] = name
        return plan

    @staticmethod
    def _customer_key(order: Order, opts: TargetOptions) -> tuple[str, str, dict[str, Any]]:
        c = order.customer
        display = clean_name(c.name or c.company or c.email or "", 500)
        if order.customer_ref:
            name = clean_name(order.customer_ref, 500)
            return "DisplayName", name, {"DisplayName": name}
        if opts.customer_match == "fixed" or not display:
            name = clean_name(opts.fixed_customer, 500)
            return "DisplayName", name, {"DisplayName": name}
        body: dict[str, Any] = {"DisplayName": display}
        if c.company:
            body["CompanyName"] = c.company
        if c.email:
            body["PrimaryEmailAddr"] = {"Address": c.email}
        if c.phone or order.bill_to.phone:
            body["PrimaryPhone"] = {"FreeFormNumber": c.phone or order.bill_to.phone}
        for key, addr in (("BillAddr", order.bill_to), ("ShipAddr", order.ship_to)):
            if (value := mapping.address_to_qb(addr)) is not None:
                body[key] = value
        if opts.customer_match == "email" and c.email:
            return "PrimaryEmailAddr", c.email, body
        if opts.customer_match == "company" and c.company:
            return "CompanyName", c.company, body
        return "DisplayName", display, body

    @staticmethod
    def _item_key(line: LineItem, opts: TargetOptions) -> Optional[tuple[str, str]]:
        if line.adjustment:
            return None
        if line.item_name:
            return "Name", clean_name(line.item_name, 100)
        if opts.item_match == "sku" and line.sku:
            return "Sku", line.sku[:100]
        name = line.name or line.sku
        return ("Name", clean_name(name, 100)) if name else None

    @staticmethod
    def _item_body(line: LineItem, key: tuple[str, str], opts: TargetOptions,
                   tax_code: Optional[str] = None) -> dict[str, Any]:
        """A Service or NonInventory item (never Inventory); matched by SKU, it is named by its SKU.

        In a non-US company it carries its sales tax code and whether its price includes tax
        (``SalesTaxCodeRef``, ``SalesTaxIncluded``), what the global tax model needs of an item.
        """
        body: dict[str, Any] = {"Name": clean_name(key[1], 100),
                                "Type": "Service" if opts.unknown_items == "create_service" else "NonInventory",
                                "UnitPrice": line.unit_price}
        if tax_code:
            body.update(SalesTaxCodeRef={"value": tax_code}, SalesTaxIncluded=opts.tax_inclusive)
        if line.name:
            body["Description"] = line.name[:4000]
        if line.sku:
            body["Sku"] = line.sku[:100]
        return body

    # -- writing ---------------------------------------------------------------------------------
    def _batch(self, items: list[dict[str, Any]], rid: str) -> dict[str, dict[str, Any]]:
        """One write batch; an answer holding a Fault retires its request id (see :mod:`.requestids`)."""
        answers = self.api.batch(items, request_id=rid)
        if any("Fault" in answer for answer in answers.values()):
            self.ids.refused(rid)
        return answers

    def write(self, writes: list[OrderWrite]) -> list[WriteResult]:
        results: dict[str, WriteResult] = {}
        plans = [self._plan(w) for w in writes]
        found = resolve.lookup(self.api, self._wanted(plans))
        todo: list[_Plan] = []
        first_of: dict[str, _Plan] = {}
        for plan in plans:
            existing = self._existing(found, plan.order, plan.write.replaces)
            if existing is not None:
                results[plan.write.key] = WriteResult(plan.write.key, ok=True, duplicate=True, target_id=existing.target_id,
                                                      target_number=existing.target_number,
                                                      note=f"already in QuickBooks as {existing.description}")
            elif self.custom_numbers and plan.number.lower() in first_of:
                results[plan.write.key] = WriteResult(plan.write.key, ok=True, duplicate=True, target_number=plan.number,
                                                      note=f"same DocNumber as order {first_of[plan.number.lower()].write.key}")
            else:
                first_of[plan.number.lower()] = plan
                todo.append(plan)
        self._ensure_parties(todo, found)
        ready = []
        for plan in todo:
            if plan.problems:
                results[plan.write.key] = WriteResult(plan.write.key, ok=False, error="; ".join(plan.problems))
            else:
                ready.append(plan)
        posted = self._post_documents(ready, found, results)
        self._pay_invoices(posted, found, results)
        for plan in plans:  # in-run duplicates share the fate of their twin (the first with that DocNumber)
            result, twin = results[plan.write.key], first_of.get(plan.number.lower())
            if not (result.duplicate and result.target_id is None and twin is not None and twin is not plan):
                continue
            outcome = results[twin.write.key]
            if outcome.ok:
                result.target_id = outcome.target_id
            else:
                results[plan.write.key] = WriteResult(plan.write.key, ok=False, retriable=True,
                                                      error=f"order {twin.write.key} with the same DocNumber failed: {outcome.error}")
        for plan in plans:
            if plan.notes and results[plan.write.key].ok:
                extra = "; ".join(plan.notes)
                result = results[plan.write.key]
                result.note = f"{result.note}; {extra}" if result.note else extra
        for plan in todo:
            results[plan.write.key].created += self.claim(plan, found)
        return [results[w.key] for w in writes]

    def _wanted(self, plans: list[_Plan]) -> resolve.Wanted:
        wanted: resolve.Wanted = {}
        for plan in plans:
            for entity in TXN_ENTITIES if self.custom_numbers else ():
                resolve.want(wanted, entity, "DocNumber", plan.number)
            resolve.want(wanted, "Customer", *plan.customer)
            for kind in names.NAME_LISTS:  # one name list for customers, vendors and employees
                resolve.want(wanted, kind, "DisplayName", plan.customer_body["DisplayName"])
            for item_field, value in plan.item_bodies:
                resolve.want(wanted, "Item", item_field, value)
            for ref, name in plan.refs.items():
                resolve.want(wanted, REF_ENTITIES[ref], "Name", name)
            if any(plan.item_bodies):
                resolve.want(wanted, "Account", "Name", plan.opts.income_account)
        return wanted

    def _ensure_parties(self, plans: list[_Plan], found: resolve.Found) -> None:
        """Flag the orders that cannot be posted (an item to map, an unknown class...), then create the
        missing customers and items of the others in one batch, as each task allows."""
        for plan in plans:
            for key in plan.item_bodies:
                if resolve.get(found, "Item", *key) is not None:
                    continue
                if plan.opts.unknown_items == "flag" and key != plan.shipping_key:
                    sku = plan.item_bodies[key].get("Sku")  # named for `connex rules unmapped`
                    note = f" {unknown_sku_note(sku)}" if sku else ""
                    plan.problems.append(f"item {key[1]!r} ({key[0]}) not found in QuickBooks: map it, or set "
                                         f"unknown_items{note}")
                elif resolve.get(found, "Account", "Name", plan.opts.income_account) is None:
                    plan.problems.append(f"income account {plan.opts.income_account!r} not found in QuickBooks")
            for ref, name in plan.refs.items():
                if resolve.get(found, REF_ENTITIES[ref], "Name", name) is None:
                    if ref == "PaymentMethodRef":
                        plan.notes.append(f"payment method {name!r} not found in QuickBooks: left out")
                    else:
                        plan.problems.append(f"{REF_ENTITIES[ref].lower()} {name!r} not found in QuickBooks")
            named_only = plan.customer_body.keys() == {"DisplayName"}  # the fixed customer, or a rule's customer_ref
            if resolve.get(found, "Customer", *plan.customer) is None and not (plan.opts.create_customers or named_only):
                plan.problems.append(f"customer {plan.customer[1]!r} not found in QuickBooks (create_customers is off)")
        to_create: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._name_customers([p for p in plans if not p.problems and resolve.get(found, "Customer", *p.customer) is None],
                             found)
        for plan in (p for p in plans if not p.problems):
            if resolve.get(found, "Customer", *plan.customer) is None:
                to_create.setdefault(("Customer", *plan.customer), plan.customer_body)
            for key, body in plan.item_bodies.items():
                if resolve.get(found, "Item", *key) is None:
                    account = resolve.get(found, "Account", "Name", plan.opts.income_account)
                    to_create.setdefault(("Item", *key), dict(body, IncomeAccountRef={"value": account["Id"]}))
        if to_create:
            failures = self._create_parties(to_create, found)
            for plan in plans:
                keys = [("Customer", *plan.customer)] + [("Item", *k) for k in plan.item_bodies]
                plan.problems += [failures[k] for k in keys if k in failures]

    def _name_customers(self, plans: list[_Plan], found: resolve.Found) -> None:
        """Give each customer to create a DisplayName no customer, vendor or employee uses (see :mod:`.names`),
        or find the customer an earlier run created under such a name; one more look-up when a name is taken."""
        def rows(name: str) -> dict[str, Optional[dict[str, Any]]]:
            return {kind: resolve.get(found, kind, "DisplayName", name) for kind in names.NAME_LISTS}

        options = {id(p): names.candidates(p.customer_body["DisplayName"], p.customer) for p in plans}
        keys_of: dict[str, set[tuple[str, str]]] = {}
        for plan in plans:
            keys_of.setdefault(options[id(plan)][0].lower(), set()).add(plan.customer)
        more: resolve.Wanted = {}
        for plan in plans:  # the other names are looked up when the first is taken, or wanted by two customers
            first = options[id(plan)][0]
            if names.holder(rows(first)) or len(keys_of[first.lower()]) > 1:
                for name in options[id(plan)][1:]:
                    for kind in names.NAME_LISTS:
                        resolve.want(more, kind, "DisplayName", name)
        if more:
            found.update(resolve.lookup(self.api, more))
        chosen: dict[str, tuple[str, str]] = {}
        for plan in plans:
            for n, name in enumerate(options[id(plan)]):
                held = rows(name)
                customer = held["Customer"]
                if customer is not None and names.same_identity(customer, plan.customer) and n > 0:
                    found[("Customer", plan.customer[0], plan.customer[1].lower())] = customer  # made by an earlier run
                    break
                if not names.holder(held) and chosen.get(name.lower(), plan.customer) == plan.customer:
                    chosen[name.lower()] = plan.customer
                    plan.customer_body = dict(plan.customer_body, DisplayName=name)
                    break
            else:
                plan.problems.append(f"no free customer name for {plan.customer_body['DisplayName']!r}: customers, vendors "
                                     f"or employees use {', '.join(repr(n) for n in options[id(plan)])}")

    def _create_parties(self, to_create: dict[tuple[str, str, str], dict[str, Any]],
                        found: resolve.Found) -> dict[tuple[str, str, str], str]:
        """Create customers and items; returns a message per key that could not be had.

        Customers were given free names (:meth:`_name_customers`); a name taken meanwhile (6240, another
        process) is the customer only when that customer has the same identity (its e-mail or company),
        else the order fails and the next run picks the next name. An item whose name is taken is the
        item of that name, found with one more look-up.
        """
        created, errors = self._create_batches(to_create, "parties")
        for key, row in created.items():  # created here (a name taken meanwhile, below, was not)
            self.made[(key[0], str(row["Id"]))] = Created(key[0], str(row["Id"]), row.get(_name_field(key)))
        taken: resolve.Wanted = {}
        for key, error in errors.items():
            if _clash(error):
                resolve.want(taken, key[0], _name_field(key), to_create[key][_name_field(key)])
        existing = resolve.lookup(self.api, taken) if taken else {}
        for key in list(errors):
            row = resolve.get(existing, key[0], _name_field(key), to_create[key][_name_field(key)])
            if row is not None and _clash(errors[key]) and (key[0] != "Customer" or names.same_identity(row, key[1:])):
                created[key] = row
                del errors[key]
        for key, row in created.items():
            found[(key[0], key[1], key[2].lower())] = row
        return {k: f"could not create {k[0].lower()} {k[2]!r}: {e}" for k, e in errors.items()}

    def _create_batches(self, bodies: dict[tuple[str, str, str], dict[str, Any]],
                        purpose: str) -> tuple[dict[tuple, dict[str, Any]], dict[tuple, QuickBooksFault]]:
        created: dict[tuple, dict[str, Any]] = {}
        errors: dict[tuple, QuickBooksFault] = {}
        keys = sorted(bodies)
        for start in range(0, len(keys), BATCH_LIMIT):
            chunk = keys[start:start + BATCH_LIMIT]
            items = [{"bId": f"p{n}", "operation": "create", key[0]: bodies[key]} for n, key in enumerate(chunk)]
            rid = self.ids.get(self.realm, purpose, ["|".join(k) for k in chunk])
            answers = self._batch(items, rid)
            for n, key in enumerate(chunk):
                answer = answers.get(f"p{n}", {})
                error = item_error(answer)
                if error is None:
                    created[key] = answer[key[0]]
                elif isinstance(error, QuickBooksFault):
                    errors[key] = error
                else:
                    raise error
        return created, errors

    def claim(self, plan: _Plan, found: resolve.Found) -> list[Created]:
        """The customer and items of ``plan`` created by this connector and not yet reported (each reported once)."""
        rows = [resolve.get(found, "Customer", *plan.customer)] + [resolve.get(found, "Item", *k) for k in plan.item_bodies]
        keys = [("Customer" if n == 0 else "Item", str(row["Id"])) for n, row in enumerate(rows) if row]
        return [self.made.pop(k) for k in dict.fromkeys(keys) if k in self.made]

    def _refs(self, plan: _Plan, found: resolve.Found) -> dict[str, dict[str, str]]:
        refs = {}
        for ref, name in plan.refs.items():
            row = resolve.get(found, REF_ENTITIES[ref], "Name", name)
            if row is not None:
                refs[ref] = {"value": row["Id"], "name": row.get("Name", name)}
        return refs

    def body(self, plan: _Plan, found: resolve.Found, entity: Optional[str] = None) -> dict[str, Any]:
        """The document body of a planned order whose customer and items ``found`` holds (``entity``: the
        kind to build, default the plan's)."""
        customer = resolve.get(found, "Customer", *plan.customer)
        item_ids = [resolve.get(found, "Item", *k)["Id"] if k else None for k in plan.items]
        if self.allow_shipping and not plan.shipping_key:
            shipping = {"value": mapping.SHIPPING_ITEM_ID}
        else:
            row = resolve.get(found, "Item", *plan.shipping_key) if plan.shipping_key else None
            shipping = {"value": row["Id"]} if row else None
        return mapping.build_document(plan.order, entity or plan.entity, customer_id=customer["Id"], item_ids=item_ids,
                                      shipping_ref=shipping, refs=self._refs(plan, found),
                                      custom_numbers=self.custom_numbers, tax=plan.tax,
                                      tax_calculation=taxes.global_calculation(plan.opts.tax_inclusive)
                                      if self.company.global_model else None)

    def _post_documents(self, plans: list[_Plan], found: resolve.Found,
                        results: dict[str, WriteResult]) -> list[tuple[_Plan, dict[str, Any]]]:
        posted = []
        for start in range(0, len(plans), BATCH_LIMIT):
            chunk = plans[start:start + BATCH_LIMIT]
            items = []
            for n, plan in enumerate(chunk):
                items.append({"bId": f"d{n}", "operation": "create", plan.entity: self.body(plan, found)})
            rid = self.ids.get(self.realm, "documents", [p.write.idempotency_key for p in chunk])
            answers = self._batch(items, rid)
            for n, plan in enumerate(chunk):
                key, answer = plan.write.key, answers.get(f"d{n}", {})
                error = item_error(answer)
                if error is None and plan.entity in answer:
                    doc = answer[plan.entity]
                    results[key] = WriteResult(key, ok=True, target_id=mapping.target_ref(plan.entity, doc["Id"]),
                                               target_number=doc.get("DocNumber"))
                    posted.append((plan, doc))
                    if self.company.global_model and (differs := taxes.total_differs(plan.order, doc.get("TotalAmt"))):
                        plan.notes.append(differs)
                elif isinstance(error, QuickBooksFault) and error.code in ("6140", "6210") and plan.write.replaces:
                    results[key] = WriteResult(key, ok=False, error=(
                        f"QuickBooks refuses DocNumber {plan.number} again ({error.code}): the voided document "
                        "keeps it while the company warns of duplicate numbers; turn that preference off "
                        "(Account and settings > Advanced > Other preferences), or give the order another number "
                        "with a rule"))
                elif isinstance(error, QuickBooksFault) and error.code in ("6140", "6210"):
                    results[key] = WriteResult(key, ok=True, duplicate=True, target_number=plan.number,
                                               note=f"QuickBooks already has DocNumber {plan.number} ({error.code})")
                else:
                    error = error or QuickBooksFault("", "no answer for this order in the batch")
                    results[key] = WriteResult(key, ok=False, error=str(error),
                                               retriable=isinstance(error, RetriableAPIError) or
                                               getattr(error, "code", "") == "5010")
        return posted

    def _pay_invoices(self, posted: list[tuple[_Plan, dict[str, Any]]], found: resolve.Found,
                      results: dict[str, WriteResult]) -> None:
        """A linked Payment for each invoice of an order that paid something: the amount paid (the invoice's
        total when the order is paid in full, by rule or by shipping; see :func:`.mapping.amount_to_pay`)."""
        due = []
        for plan, doc in posted:
            order = plan.order
            paid = mapping.amount_to_pay(order)
            if plan.entity != "Invoice" or paid <= 0 or not plan.opts.create_payments:
                continue
            full = paid == mapping.money(order.total)
            amount = mapping.money(doc["TotalAmt"]) if full else min(paid, mapping.money(doc["TotalAmt"]))
            if not full:
                plan.notes.append(f"part paid: payment of {amount} of {doc['TotalAmt']}")
            due.append((plan, doc, amount))
        for start in range(0, len(due), BATCH_LIMIT):
            chunk = due[start:start + BATCH_LIMIT]
            items = [{"bId": f"m{n}", "operation": "create",
                      "Payment": mapping.payment_body(doc, self._refs(plan, found), amount)}
                     for n, (plan, doc, amount) in enumerate(chunk)]
            rid = self.ids.get(self.realm, "payments", [p.write.idempotency_key for p, _, _ in chunk])
            answers = self._batch(items, rid)
            for n, (plan, _, _) in enumerate(chunk):
                error = item_error(answers.get(f"m{n}", {}))
                if error is not None:
                    plan.notes.append(f"invoice posted, but the payment was not recorded: {error}")
                else:
                    plan.notes.append(f"payment {answers[f'm{n}']['Payment']['Id']} recorded")
