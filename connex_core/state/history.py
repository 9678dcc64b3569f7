"""The run history as the command line (``connex runs``) and the console show it."""

from __future__ import annotations

#: The outcome counts a run's summary holds, in the order they are shown.
COUNTS = ("read", "created", "updated", "duplicate", "already_synced", "skipped", "held", "failed", "ignored", "voided",
          "would_create", "resynced", "undone")


def run_row(r: dict) -> dict:
    """One run as ``connex runs --json`` prints it (and as the console shows it)."""
    summary = r.get("summary") or {}
    return {"id": r["id"], "task": r["task"], "started": r["started_at"], "finished": r["finished_at"],
            "status": r["status"], "error": summary.get("error"),
            "counts": {k: summary.get(k, 0) for k in COUNTS if summary.get(k)}}
