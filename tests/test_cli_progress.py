"""The progress display lives in the command line and follows the engine's on_progress callback."""

from __future__ import annotations

from connex_core.cli.progress import RunProgress
from connex_core.config import load_config
from connex_core.engine import SyncEngine
from connex_core.state import SQLiteStore
from tests.support.memory_plugin import seed


def test_the_bar_counts_what_the_engine_reports_for_its_task(manager, memory_config):
    seed("src", 12)
    progress = RunProgress(True)
    cfg = load_config(memory_config)
    engine = SyncEngine(cfg, manager, SQLiteStore(cfg.state_path), on_progress=progress.advance)
    with progress.task("orders"):
        engine.run_task("orders")
        progress.advance("another-task", 5)  # not the task shown: ignored
        [bar] = progress._progress.tasks
        assert (bar.description, bar.completed) == ("orders", 12)
    assert progress._progress is None  # stopped with its task
    progress.advance("orders", 1)  # between tasks: nothing to draw, no error


def test_a_disabled_display_draws_nothing(manager, memory_config, capsys):
    seed("src", 3)
    progress = RunProgress(False)
    cfg = load_config(memory_config)
    with progress.task("orders"):
        SyncEngine(cfg, manager, SQLiteStore(cfg.state_path), on_progress=progress.advance).run_task("orders")
    assert capsys.readouterr().err == ""
