"""The state rows as planning holds them: in memory, read in one pass before planning.

Pure like `plan` (core only, no I/O). `PlanRows` is what a push builds (`plan_input`): the rows
planning reads as StateEntry, the other rows in sync on both sides as keys only; `after_moves`
is the same rows once the local renames and moves (`plan_moves`) are done.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Mapping, Protocol, runtime_checkable

from ..core.model import Action, StateEntry
from .plan_moves import apply_moves

# A file row in sync on both sides, as the state DB lists it: (path, is_dir, size, mtime_ns, ino),
# which equals the scan's LocalEntry of the untouched file (one tuple compare decides it).
CleanKey = tuple


@runtime_checkable
class PlanState(Protocol):
    """What planning reads of the state DB. Everything is in memory: no call does I/O."""

    @property
    def clean(self) -> Mapping[str, CleanKey]:
        """File rows in sync on both sides, by path (may be empty: then every row is in `get`)."""

    def get(self, path: str) -> StateEntry | None:
        """The row at `path` (None: no row). Defined for every path planning reads."""

    def __iter__(self) -> Iterator[str]:
        """Every path that has a row (clean or not)."""

    def __contains__(self, path: object) -> bool: ...

    def entries(self) -> Iterable[StateEntry]:
        """Every row held as a StateEntry: all rows that are not clean (folders always are not)."""


class PlanRows(Mapping[str, StateEntry]):
    """The in-memory PlanState a push builds: StateEntry rows, and the clean rows as keys only.

    A clean row that is not among `rows` is one planning never reads (its file is untouched);
    asking for it anyway is a bug, and raises instead of answering "no row" (which would plan
    a second copy on Drive).
    """

    __slots__ = ("rows", "clean")

    def __init__(self, rows: dict[str, StateEntry], clean: Mapping[str, CleanKey] | None = None) -> None:
        self.rows = rows
        self.clean: Mapping[str, CleanKey] = clean if clean is not None else {}

    def get(self, path: str, default: None = None) -> StateEntry | None:  # type: ignore[override]
        row = self.rows.get(path)
        if row is None and path in self.clean:
            raise LookupError(f"state row {path!r} was not read before planning")
        return row

    def __getitem__(self, path: str) -> StateEntry:
        row = self.get(path)
        if row is None:
            raise KeyError(path)
        return row

    def __contains__(self, path: object) -> bool:
        return path in self.rows or path in self.clean

    def __iter__(self) -> Iterator[str]:
        rows = self.rows
        yield from rows
        for p in self.clean:
            if p not in rows:
                yield p

    def __len__(self) -> int:
        rows = self.rows
        return len(rows) + sum(1 for p in self.clean if p not in rows)

    def entries(self) -> Iterable[StateEntry]:
        return self.rows.values()


def as_plan_state(state: PlanState | Mapping[str, StateEntry]) -> PlanState:
    """A plain mapping of rows (tests, dry runs) is a PlanState with nothing clean."""
    if isinstance(state, PlanState):
        return state
    return PlanRows(dict(state))


def after_moves(state: PlanState, moves: list[Action]) -> PlanRows:
    """The rows as `moves` (MOVE actions, in order) leave them: what planning, and then the
    executor, see at each path once the local renames and moves are done on Drive."""
    rows = dict(state.rows) if isinstance(state, PlanRows) else {r.path: r for r in state.entries()}
    before = set(rows)
    apply_moves(rows, moves)
    left = before.difference(rows)
    clean = state.clean
    return PlanRows(rows, {p: k for p, k in clean.items() if p not in left} if left else clean)
