"""Every standard flow on realistic seeded data, then all of them again: the rerun posts nothing."""

from __future__ import annotations

from connex_core.demo import AFTER_SHIPPING, FIRST

from tests.e2e.helpers import doc_counts


def test_a_rerun_of_every_flow_posts_nothing_new(sandbox):
    seeded = {name: service.seed(24 if name != "quickbooks-summary" else 0)
              for name, service in sandbox.server.services.items()}
    assert seeded["shipstation"] == seeded["quickbooks"] == seeded["xero"] == 24
    sandbox.write()
    first = {name: sandbox.run(name) for name in FIRST}
    for service in sandbox.server.services.values():
        service.simulate_activity()
    first.update({name: sandbox.run(name) for name in AFTER_SHIPPING})
    for name, summary in first.items():
        done = summary.counts["created"] + summary.counts["updated"]
        assert done > 0, f"{name} did nothing on the first run: {summary.as_dict()}"
        assert summary.counts["failed"] == 0 and summary.counts["held"] == 0, summary.as_dict()

    counts = doc_counts(sandbox)
    writes = {name: service.write_calls for name, service in sandbox.server.services.items()}
    for name in FIRST + AFTER_SHIPPING:
        again = sandbox.run(name)
        assert again.counts["created"] == again.counts["updated"] == again.counts["failed"] == 0, again.as_dict()
    assert doc_counts(sandbox) == counts
    assert {name: service.write_calls for name, service in sandbox.server.services.items()} == writes


def test_a_rerun_with_the_state_file_lost_posts_nothing_either(sandbox):
    """Duplicate detection looks in the targets, so a new state file does not post anything twice.

    QuickBooks documents and Xero invoices are found by number and tracking is compared with the
    document, without QuickBooks replaying a request id; a Xero tracking note is not looked up
    beforehand (a history read per invoice), so there Xero's Idempotency-Key replays the note.
    """
    for name, service in sandbox.server.services.items():
        service.seed(16 if name != "quickbooks-summary" else 0)
    sandbox.write()
    for name in FIRST:
        sandbox.run(name)
    for service in sandbox.server.services.values():
        service.simulate_activity()
    for name in AFTER_SHIPPING:
        sandbox.run(name)
    counts = doc_counts(sandbox)

    sandbox.close()
    for lost in sandbox.folder.glob("connex.db*"):
        lost.unlink()
    qb_replays = sandbox.quickbooks.replays + sandbox.summary_books.replays
    xero_replays = sandbox.xero.replays
    for name in FIRST + AFTER_SHIPPING:
        again = sandbox.run(name)
        assert again.counts["created"] == again.counts["failed"] == 0, again.as_dict()
        if name == "tracking-to-xero":
            assert sandbox.xero.replays - xero_replays == again.counts["updated"] > 0
        else:
            assert again.counts["updated"] == 0, again.as_dict()
    assert doc_counts(sandbox) == counts
    assert sandbox.quickbooks.replays + sandbox.summary_books.replays == qb_replays
