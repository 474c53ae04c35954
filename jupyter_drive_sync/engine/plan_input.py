"""The state rows a push plans with, read from the state DB in one pass before planning.

Planning itself is pure (`plan`); what it needs of the DB is fetched here first. On a quiet
day nearly every row is *clean* (in sync on both sides, its file untouched) and stays a
`(path, is_dir, size, mtime_ns)` key: a 50,000-file home costs two table scans and a tuple
per file, and only the rows of changed or deleted files are built as StateEntry.
"""

from __future__ import annotations

from ..core.model import Snapshot
from ..home.state_db import StateDB
from .plan import PlanRows, rows_planning_reads


def read_plan_state(db: StateDB, snapshot: Snapshot) -> PlanRows:
    """Every row that is not clean, the clean ones planning reads (files changed or gone since),
    and the other clean rows as keys only."""
    listed = db.load_rows()
    clean = listed.clean
    others = listed.unclean_values()
    needed = rows_planning_reads(snapshot, clean, others)
    if needed is None:
        return PlanRows(db.load(), clean)
    rows = {r.path: r for r in others}
    if needed:
        rows.update(db.rows_at(needed))
    return PlanRows(rows, clean)
