"""The connector contract of connex_core, run against the CSV connector on a real folder.

The file system's "429" is a transient OS error (a file another program holds, a stalled share), its
"401" a folder the account may not read: the simulator (``connex_csv.sim``) injects both.
"""

from __future__ import annotations

import pytest

from connex_core.api import OrderWrite
from connex_core.sandbox import Fault
from connex_core.testing import ConnectorContractTests
from connex_csv.reader import read_orders


class TestCsvContract(ConnectorContractTests):
    paging_orders = 1201  # three files of at most 500 orders

    @pytest.fixture
    def service(self, folder):
        return folder

    @pytest.fixture
    def make_connector(self, make_csv):
        return make_csv

    @pytest.fixture
    def seed_orders(self, folder):
        return folder.seed_orders

    def rate_limit_fault(self) -> Fault:
        return Fault(kind="error", body=b"EBUSY", methods=("READ",), path=r"\.csv$")

    def roundtrip(self, connector, order):
        """Write the order with the connector, read the file it wrote with the connector's reader."""
        result = connector.write_orders([OrderWrite(order=order, idempotency_key="roundtrip")])[0]
        assert result.ok, result.error
        path = connector.folder / result.target_id.split("#")[0]
        items = list(read_orders(path.name, path.read_bytes(), connector.settings, order.modified_at))
        assert len(items) == 1, items
        return items[0]

    def write_count(self, service) -> int:
        return service.write_calls
