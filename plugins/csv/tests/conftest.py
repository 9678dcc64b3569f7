"""Fixtures of the CSV connector's tests: a folder service (the simulator) and connectors on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from connex_core.api import ConnectorContext
from connex_csv import CsvConnector, CsvSettings
from connex_csv.sim import FolderService


@pytest.fixture
def folder(tmp_path) -> FolderService:
    """The simulator: a real folder under the test's temporary folder, with fault injection."""
    return FolderService(tmp_path / "orders", seed=7)


@pytest.fixture
def make_csv(folder, tmp_path, sim_clock):
    """``make_csv(dry_run=False, bad_credentials=False, **settings)``: a connector on ``folder``'s folder (files are
    read as soon as written: ``settle_seconds = 0`` unless given)."""

    def make(dry_run: bool = False, bad_credentials: bool = False, *, state: Path | None = None, **settings) -> CsvConnector:
        folder.denied = bad_credentials
        values = {"type": "csv", "folder": str(folder.folder), "settle_seconds": 0, **settings}
        ctx = ConnectorContext(connection="shop", state_dir=state or tmp_path / ".connex", dry_run=dry_run,
                               options={"clock": sim_clock, "csv_files": folder.files()})
        return CsvConnector(CsvSettings.model_validate(values), ctx)

    return make
