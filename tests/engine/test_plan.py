"""The last-write-wins table (docs/ARCHITECTURE.md), row by row, under both policies."""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass

import pytest

from jupyter_drive_sync.core.model import (
    Action,
    ActionKind as K,
    DeletePolicy,
    EntryStatus,
    LocalEntry,
    Plan,
    Policy,
    Skipped,
    Snapshot,
    StateEntry,
)
from jupyter_drive_sync.engine.plan import PlanRows, plan, rows_planning_reads

MS = 1_000_000
T0 = 1_700_000_000_000  # ms: local mtime and Drive modifiedTime at the last push
T_LOCAL = T0 + 10_000  # a later local write
T_DRIVE_EARLY = T0 + 5_000  # a Drive edit before the local write
T_DRIVE_LATE = T0 + 20_000  # a Drive edit after the local write
OLD, NEW = "0" * 32, "1" * 32
LWW, LW = Policy.LAST_WRITE_WINS, Policy.LOCAL_WINS


def lfile(path: str, size: int = 10, mtime_ms: int = T0) -> LocalEntry:
    return LocalEntry(path, False, size, mtime_ms * MS)


def ldir(path: str) -> LocalEntry:
    return LocalEntry(path, True, 0, T0 * MS)


def row(path: str, *, is_dir: bool = False, drive_id: str | None = None, **kw) -> StateEntry:
    base = dict(
        local_size=0 if is_dir else 10,
        local_mtime_ns=T0 * MS,
        md5=None if is_dir else OLD,
        drive_md5=None if is_dir else OLD,
        drive_modified_ms=T0,
        drive_head_revision=None if is_dir else "rev-1",
    )
    base.update(kw)
    return StateEntry(path=path, drive_id=drive_id or "id-" + path.replace("/", "-"), is_dir=is_dir, **base)


def run(entries=(), rows=(), hashes=None, *, skipped=(), excluded=(), **kw) -> Plan:
    snap = Snapshot(
        entries={e.path: e for e in entries},
        skipped=[Skipped(p, "test") for p in skipped],
        excluded=list(excluded),
    )
    state = {r.path: r for r in rows}
    return plan(snap, state, hashes or {}, **kw)


def only(p: Plan) -> Action:
    assert len(p.actions) == 1, p.actions
    return p.actions[0]


# -- the file table ----------------------------------------------------------------------------

LOCAL = {
    # name: (local entry for "a.txt", hashes)
    "unchanged": (lfile("a.txt"), {}),
    "touched": (lfile("a.txt", mtime_ms=T_LOCAL), {"a.txt": OLD}),
    "changed-size": (lfile("a.txt", size=11, mtime_ms=T_LOCAL), {}),
    "changed-same-size": (lfile("a.txt", mtime_ms=T_LOCAL), {"a.txt": NEW}),
    "changed-unhashed": (lfile("a.txt", mtime_ms=T_LOCAL), {}),  # hash not available → changed
}
DRIVE = {
    "unchanged": {},
    "edited-early": dict(drive_md5=NEW, drive_modified_ms=T_DRIVE_EARLY, drive_head_revision="rev-2"),
    "edited-late": dict(drive_md5=NEW, drive_modified_ms=T_DRIVE_LATE, drive_head_revision="rev-2"),
    "touched-early": dict(drive_modified_ms=T_DRIVE_EARLY),  # same md5, other modifiedTime
    "edited-same-ms": dict(drive_md5=NEW, drive_modified_ms=T_LOCAL, drive_head_revision="rev-2"),
    "trashed": dict(drive_trashed=True),
    "trashed-edited": dict(drive_trashed=True, drive_md5=NEW, drive_head_revision="rev-2"),
    "removed": dict(drive_removed=True),
}


@dataclass(frozen=True)
class Want:
    kind: K | None  # None: no action at all
    new_id: bool = False  # create with a fresh ID (drive_id None) instead of the row's
    pin: str | None = None
    untrash: bool = False
    conflict: bool = False


CHANGED = ("changed-size", "changed-same-size", "changed-unhashed")

# (local, drive) → expected, under last-write-wins
LWW_TABLE: dict[tuple[str, str], Want] = {
    ("unchanged", "unchanged"): Want(None),
    ("touched", "unchanged"): Want(K.UPDATE_MTIME),
    ("unchanged", "edited-early"): Want(K.KEEP_DRIVE),
    ("unchanged", "edited-late"): Want(K.KEEP_DRIVE),
    ("unchanged", "touched-early"): Want(K.KEEP_DRIVE),
    ("unchanged", "edited-same-ms"): Want(K.KEEP_DRIVE),
    ("touched", "edited-early"): Want(K.KEEP_DRIVE),  # a touch is not a later write
    ("touched", "edited-late"): Want(K.KEEP_DRIVE),
    ("touched", "touched-early"): Want(K.KEEP_DRIVE),
    ("touched", "edited-same-ms"): Want(K.KEEP_DRIVE),
    ("unchanged", "trashed"): Want(K.KEEP_DRIVE),
    ("unchanged", "trashed-edited"): Want(K.KEEP_DRIVE),
    ("touched", "trashed"): Want(K.KEEP_DRIVE),
    ("touched", "trashed-edited"): Want(K.KEEP_DRIVE),
    ("unchanged", "removed"): Want(K.KEEP_DRIVE),
    ("touched", "removed"): Want(K.KEEP_DRIVE),
}
for _l in CHANGED:
    LWW_TABLE.update(
        {
            (_l, "unchanged"): Want(K.UPDATE_CONTENT),
            (_l, "edited-early"): Want(K.UPDATE_CONTENT, pin="rev-2", conflict=True),
            (_l, "edited-late"): Want(K.KEEP_DRIVE, conflict=True),
            (_l, "touched-early"): Want(K.UPDATE_CONTENT, conflict=True),  # nothing to pin: same content
            # a tie: neither is later, both are kept (the local copy backed up, Drive's pinned)
            (_l, "edited-same-ms"): Want(K.UPDATE_CONTENT, pin="rev-2", conflict=True),
            (_l, "trashed"): Want(K.UPDATE_CONTENT, untrash=True),
            (_l, "trashed-edited"): Want(K.UPDATE_CONTENT, untrash=True, pin="rev-2", conflict=True),
            (_l, "removed"): Want(K.CREATE, new_id=True),
        }
    )

# under local-wins Drive is a strict mirror
LW_TABLE: dict[tuple[str, str], Want] = {
    ("unchanged", "unchanged"): Want(None),
    ("touched", "unchanged"): Want(K.UPDATE_MTIME),
    ("unchanged", "edited-early"): Want(K.UPDATE_CONTENT, pin="rev-2"),
    ("unchanged", "edited-late"): Want(K.UPDATE_CONTENT, pin="rev-2"),
    ("unchanged", "touched-early"): Want(K.UPDATE_MTIME),
    ("unchanged", "edited-same-ms"): Want(K.UPDATE_CONTENT, pin="rev-2"),
    ("touched", "edited-early"): Want(K.UPDATE_CONTENT, pin="rev-2"),
    ("touched", "edited-late"): Want(K.UPDATE_CONTENT, pin="rev-2"),
    ("touched", "touched-early"): Want(K.UPDATE_MTIME),
    ("touched", "edited-same-ms"): Want(K.UPDATE_CONTENT, pin="rev-2"),
    ("unchanged", "trashed"): Want(K.UPDATE_MTIME, untrash=True),
    ("touched", "trashed"): Want(K.UPDATE_MTIME, untrash=True),
    ("unchanged", "trashed-edited"): Want(K.UPDATE_CONTENT, untrash=True, pin="rev-2"),
    ("touched", "trashed-edited"): Want(K.UPDATE_CONTENT, untrash=True, pin="rev-2"),
    ("unchanged", "removed"): Want(K.CREATE, new_id=True),
    ("touched", "removed"): Want(K.CREATE, new_id=True),
}
for _l in CHANGED:
    LW_TABLE.update(
        {
            (_l, "unchanged"): Want(K.UPDATE_CONTENT),
            (_l, "edited-early"): Want(K.UPDATE_CONTENT, pin="rev-2", conflict=True),
            (_l, "edited-late"): Want(K.UPDATE_CONTENT, pin="rev-2", conflict=True),
            (_l, "touched-early"): Want(K.UPDATE_CONTENT, conflict=True),
            (_l, "edited-same-ms"): Want(K.UPDATE_CONTENT, pin="rev-2", conflict=True),
            (_l, "trashed"): Want(K.UPDATE_CONTENT, untrash=True),
            (_l, "trashed-edited"): Want(K.UPDATE_CONTENT, untrash=True, pin="rev-2", conflict=True),
            (_l, "removed"): Want(K.CREATE, new_id=True),
        }
    )


def test_tables_cover_every_combination():
    every = {(l, d) for l in LOCAL for d in DRIVE}
    assert set(LWW_TABLE) == every
    assert set(LW_TABLE) == every


def _check(p: Plan, want: Want, local: LocalEntry) -> None:
    if want.kind is None:
        assert p.actions == []
        assert p.unchanged == 1
        return
    a = only(p)
    assert p.unchanged == 0
    assert a.kind is want.kind, a
    assert a.path == "a.txt" and a.parent_path == ""
    assert a.drive_id == (None if want.new_id else "id-a.txt")
    assert a.pin_revision == want.pin
    assert a.untrash is want.untrash
    assert a.conflict is want.conflict
    assert a.local == local
    assert a.reason


@pytest.mark.parametrize("policy,table", [(LWW, LWW_TABLE), (LW, LW_TABLE)], ids=["last-write-wins", "local-wins"])
@pytest.mark.parametrize("local_name", list(LOCAL))
@pytest.mark.parametrize("drive_name", list(DRIVE))
@pytest.mark.parametrize("delete_policy", list(DeletePolicy))
def test_file_table(policy, table, local_name, drive_name, delete_policy):
    local, hashes = LOCAL[local_name]
    r = row("a.txt", **DRIVE[drive_name])
    p = run([local], [r], hashes, policy=policy, delete_policy=delete_policy)
    _check(p, table[(local_name, drive_name)], local)


@pytest.mark.parametrize("policy", list(Policy))
def test_new_file_and_folder_get_fresh_ids(policy):
    p = run([ldir("d"), lfile("d/x.py"), lfile("top.txt")], [], policy=policy)
    assert [(a.kind, a.path, a.drive_id, a.parent_path) for a in p.actions] == [
        (K.MKDIR, "d", None, ""),
        (K.CREATE, "d/x.py", None, "d"),
        (K.CREATE, "top.txt", None, ""),
    ]


@pytest.mark.parametrize("policy", list(Policy))
@pytest.mark.parametrize("is_dir", [False, True])
def test_pending_row_is_created_again_with_the_same_id(policy, is_dir):
    entry = ldir("p") if is_dir else lfile("p", size=99, mtime_ms=T_LOCAL)
    r = row("p", is_dir=is_dir, drive_id="pending-id", status=EntryStatus.PENDING, drive_removed=True)
    a = only(run([entry], [r], policy=policy))
    assert a.kind is (K.MKDIR if is_dir else K.CREATE)
    assert a.drive_id == "pending-id"


@pytest.mark.parametrize("policy", list(Policy))
@pytest.mark.parametrize(
    "hashes,kind", [({"a.txt": OLD}, K.UPDATE_MTIME), ({"a.txt": NEW}, K.UPDATE_CONTENT), ({}, K.UPDATE_CONTENT)]
)
def test_reappearing_file_reuses_its_id(policy, hashes, kind):
    # same size and mtime as recorded, but the row says it was deleted: not "unchanged"
    r = row("a.txt", local_deleted=True)
    a = only(run([lfile("a.txt")], [r], hashes, policy=policy))
    assert a.kind is kind and a.drive_id == "id-a.txt"


# -- local deletions ---------------------------------------------------------------------------

DELETE_CASES = {
    # drive state of the deleted file: (keep, trash)
    "unchanged": (K.FORGET_LOCAL, K.TRASH),
    "edited-late": (K.FORGET_LOCAL, K.TRASH),
    "trashed": (K.FORGET_LOCAL, K.FORGET_LOCAL),
    "removed": (K.FORGET_LOCAL, K.FORGET_LOCAL),
}


@pytest.mark.parametrize("policy", list(Policy))
@pytest.mark.parametrize("drive_name", list(DELETE_CASES))
@pytest.mark.parametrize("delete_policy", list(DeletePolicy))
def test_file_deleted_locally(policy, drive_name, delete_policy):
    r = row("a.txt", **DRIVE[drive_name])
    a = only(run([], [r], policy=policy, delete_policy=delete_policy))
    keep, trash = DELETE_CASES[drive_name]
    assert a.kind is (keep if delete_policy is DeletePolicy.KEEP else trash)
    assert a.drive_id == "id-a.txt" and a.local is None


@pytest.mark.parametrize("delete_policy", list(DeletePolicy))
def test_already_deleted_row_is_left_alone(delete_policy):
    p = run([], [row("a.txt", local_deleted=True), row("d", is_dir=True, local_deleted=True)],
            delete_policy=delete_policy)
    assert p.actions == []


def test_trash_only_the_topmost_deleted_folder():
    rows = [row("d", is_dir=True), row("d/x"), row("d/e", is_dir=True), row("d/e/y"), row("keep.txt")]
    p = run([lfile("keep.txt")], rows, delete_policy=DeletePolicy.TRASH)
    assert [(a.kind, a.path, a.drive_id) for a in p.actions] == [(K.TRASH, "d", "id-d")]
    assert p.unchanged == 1


def test_keep_policy_forgets_every_deleted_row():
    rows = [row("d", is_dir=True), row("d/x"), row("d/e", is_dir=True), row("d/e/y")]
    p = run([], rows, delete_policy=DeletePolicy.KEEP)
    assert [(a.kind, a.path) for a in p.actions] == [
        (K.FORGET_LOCAL, "d"), (K.FORGET_LOCAL, "d/e"), (K.FORGET_LOCAL, "d/e/y"), (K.FORGET_LOCAL, "d/x"),
    ]


def test_deleted_folder_already_trashed_on_drive_is_not_trashed_again():
    rows = [row("d", is_dir=True, drive_trashed=True), row("d/x"), row("e", is_dir=True, drive_removed=True), row("e/y")]
    p = run([], rows, delete_policy=DeletePolicy.TRASH)
    assert {(a.kind, a.path) for a in p.actions} == {
        (K.FORGET_LOCAL, "d"), (K.FORGET_LOCAL, "d/x"), (K.FORGET_LOCAL, "e"), (K.FORGET_LOCAL, "e/y"),
    }


def test_deleted_pending_row_is_trashed_in_case_the_create_happened():
    r = row("a.txt", status=EntryStatus.PENDING, drive_id="maybe")
    a = only(run([], [r], delete_policy=DeletePolicy.TRASH))
    assert (a.kind, a.drive_id) == (K.TRASH, "maybe")


@pytest.mark.parametrize("delete_policy", list(DeletePolicy))
@pytest.mark.parametrize("how", ["skipped", "excluded"])
def test_rows_under_refused_or_excluded_paths_are_not_deletions(delete_policy, how):
    rows = [row("secret", is_dir=True), row("secret/k"), row("big.bin")]
    kw = {how: ["secret", "big.bin"]}
    assert run([], rows, delete_policy=delete_policy, **kw).actions == []


# -- folders -----------------------------------------------------------------------------------

FOLDER_TABLE = {
    # drive state: (last-write-wins, local-wins), as (kind, new_id, untrash)
    "unchanged": (None, None),
    "trashed": ((K.KEEP_DRIVE, False, False), (K.UPDATE_MTIME, False, True)),
    "removed": ((K.KEEP_DRIVE, False, False), (K.MKDIR, True, False)),
}


@pytest.mark.parametrize("drive_name", list(FOLDER_TABLE))
@pytest.mark.parametrize("policy", list(Policy))
def test_folder_table(drive_name, policy):
    flags = {"trashed": dict(drive_trashed=True), "removed": dict(drive_removed=True)}.get(drive_name, {})
    p = run([ldir("d")], [row("d", is_dir=True, **flags)], policy=policy)
    want = FOLDER_TABLE[drive_name][0 if policy is LWW else 1]
    if want is None:
        assert p.actions == [] and p.unchanged == 0  # folders are not counted as unchanged files
        return
    a = only(p)
    assert (a.kind, a.drive_id is None, a.untrash) == (want[0], want[1], want[2])
    if not want[1]:
        assert a.drive_id == "id-d"


@pytest.mark.parametrize("flags,kind,untrash", [
    ({}, K.UPDATE_MTIME, False),
    ({"drive_trashed": True}, K.UPDATE_MTIME, True),
    ({"drive_removed": True}, K.MKDIR, False),
])
def test_reappearing_folder(flags, kind, untrash):
    a = only(run([ldir("d")], [row("d", is_dir=True, local_deleted=True, **flags)]))
    assert (a.kind, a.untrash) == (kind, untrash)
    assert a.drive_id == (None if kind is K.MKDIR else "id-d")


def test_write_into_trashed_folder_untrashes_it_first():
    rows = [row("d", is_dir=True, drive_trashed=True), row("d/old.txt")]
    p = run([ldir("d"), lfile("d/old.txt"), lfile("d/new.txt")], rows)
    assert [(a.kind, a.path, a.drive_id, a.untrash) for a in p.actions] == [
        (K.UPDATE_MTIME, "d", "id-d", True),
        (K.CREATE, "d/new.txt", None, False),
    ]
    assert p.unchanged == 0  # d/old.txt sits in the trashed folder: respected, not "unchanged"


def test_unchanged_files_in_trashed_folder_are_respected():
    rows = [row("d", is_dir=True, drive_trashed=True), row("d/old.txt")]
    p = run([ldir("d"), lfile("d/old.txt")], rows)
    assert [(a.kind, a.path) for a in p.actions] == [(K.KEEP_DRIVE, "d")]


def test_change_under_removed_folders_recreates_the_whole_chain():
    rows = [row("a", is_dir=True, drive_removed=True), row("a/b", is_dir=True), row("a/b/c.txt"), row("a/b/same.txt")]
    entries = [ldir("a"), ldir("a/b"), lfile("a/b/c.txt", size=3, mtime_ms=T_LOCAL), lfile("a/b/same.txt")]
    p = run(entries, rows)
    assert [(a.kind, a.path, a.drive_id) for a in p.actions] == [
        (K.MKDIR, "a", None),
        (K.MKDIR, "a/b", None),
        (K.CREATE, "a/b/c.txt", None),
    ]


def test_local_wins_recreates_everything_under_removed_folder():
    rows = [row("a", is_dir=True, drive_removed=True), row("a/x")]
    p = run([ldir("a"), lfile("a/x")], rows, policy=LW)
    assert [(a.kind, a.path, a.drive_id) for a in p.actions] == [(K.MKDIR, "a", None), (K.CREATE, "a/x", None)]


def test_new_folder_inside_trashed_folder():
    rows = [row("d", is_dir=True, drive_trashed=True)]
    p = run([ldir("d"), ldir("d/sub")], rows)
    assert [(a.kind, a.path, a.untrash) for a in p.actions] == [
        (K.UPDATE_MTIME, "d", True), (K.MKDIR, "d/sub", False),
    ]


# -- kind changes, scope, ordering, purity -----------------------------------------------------

@pytest.mark.parametrize("delete_policy", list(DeletePolicy))
def test_file_replaced_by_folder(delete_policy):
    p = run([ldir("x"), lfile("x/in.txt")], [row("x")], delete_policy=delete_policy)
    got = [(a.kind, a.path, a.drive_id) for a in p.actions]
    expected = [(K.MKDIR, "x", None), (K.CREATE, "x/in.txt", None)]
    if delete_policy is DeletePolicy.TRASH:
        expected.append((K.TRASH, "x", "id-x"))
    else:  # the old file is kept live on Drive, renamed beside the new folder (one live item a path)
        expected.insert(0, (K.MOVE, "x (replaced by a folder)", "id-x"))
    assert got == expected


@pytest.mark.parametrize("delete_policy", list(DeletePolicy))
def test_folder_replaced_by_file(delete_policy):
    p = run([lfile("x")], [row("x", is_dir=True), row("x/in.txt")], delete_policy=delete_policy)
    got = [(a.kind, a.path, a.drive_id) for a in p.actions]
    if delete_policy is DeletePolicy.TRASH:
        assert got == [(K.CREATE, "x", None), (K.TRASH, "x", "id-x")]
    else:
        # the old folder, its rows with it, is kept live on Drive renamed beside the new file
        assert got == [(K.MOVE, "x (replaced by a file)", "id-x"), (K.CREATE, "x", None)]


def test_root_path_limits_the_plan_to_a_subtree():
    rows = [row("other.txt"), row("work", is_dir=True), row("work/gone.txt")]
    entries = [ldir("work"), lfile("work/new.txt"), lfile("elsewhere.txt")]
    p = run(entries, rows, root_path="work", delete_policy=DeletePolicy.TRASH)
    assert [(a.kind, a.path) for a in p.actions] == [(K.CREATE, "work/new.txt"), (K.TRASH, "work/gone.txt")]


def test_the_home_itself_is_never_an_action():
    p = run([LocalEntry("", True, 0, 0), lfile("a")], [row("", is_dir=True)])
    assert [a.path for a in p.actions] == ["a"]


def test_order_is_folders_by_depth_then_files_then_trash_and_deterministic():
    entries = [ldir("b"), ldir("a"), ldir("a/z"), ldir("a/z/y"), lfile("a/z/y/f"), lfile("b/g"), lfile("c"),
               lfile("b/h", size=1, mtime_ms=T_LOCAL)]
    rows = [row("b", is_dir=True), row("b/h"), row("gone"), row("old", is_dir=True)]
    expected = [
        (K.MKDIR, "a"), (K.MKDIR, "a/z"), (K.MKDIR, "a/z/y"),
        (K.CREATE, "a/z/y/f"), (K.CREATE, "b/g"), (K.UPDATE_CONTENT, "b/h"), (K.CREATE, "c"),
        (K.TRASH, "gone"), (K.TRASH, "old"),
    ]
    rng = random.Random(7)
    for _ in range(5):
        rng.shuffle(entries)
        rng.shuffle(rows)
        p = run(entries, rows, delete_policy=DeletePolicy.TRASH)
        assert [(a.kind, a.path) for a in p.actions] == expected


def test_noop_tree_plans_nothing():
    entries = [ldir(f"d{i}") for i in range(20)] + [lfile(f"d{i}/f{j}") for i in range(20) for j in range(50)]
    rows = [row(e.path, is_dir=e.is_dir) for e in entries]
    p = run(entries, rows, delete_policy=DeletePolicy.TRASH)
    assert p.actions == [] and p.unchanged == 1000


def test_plan_does_not_modify_its_inputs():
    entries = [ldir("d"), lfile("d/x", size=5, mtime_ms=T_LOCAL), lfile("n")]
    snap = Snapshot(entries={e.path: e for e in entries}, skipped=[Skipped("s", "x")])
    state = {r.path: r for r in [row("d", is_dir=True, drive_trashed=True), row("d/x"), row("gone")]}
    hashes = {"d/x": NEW}
    before = copy.deepcopy((snap, state, hashes))
    plan(snap, state, hashes, delete_policy=DeletePolicy.TRASH)
    assert (snap, state, hashes) == before


# -- planning reads only rows the push fetched beforehand ----------------------------------------


def is_clean(r: StateEntry) -> bool:
    """The state DB's rows in sync on both sides (listed as keys only, never built as rows)."""
    return (r.status is EntryStatus.SYNCED and not r.is_dir and not r.local_deleted and not r.drive_trashed
            and not r.drive_removed and r.drive_md5 == r.md5 and r.local_mtime_ns // MS == r.drive_modified_ms)


def as_fetched(snap: Snapshot, rows: list[StateEntry]) -> PlanRows:
    """What a push hands planning: clean rows as keys, the others and those planning reads as rows."""
    clean = {r.path: (r.path, r.is_dir, r.local_size, r.local_mtime_ns, r.local_ino) for r in rows if is_clean(r)}
    others = [r for r in rows if r.path not in clean]
    needed = rows_planning_reads(snap, clean, others)
    by_path = {r.path: r for r in rows}
    fetched = by_path if needed is None else {**{r.path: r for r in others}, **{p: by_path[p] for p in needed}}
    return PlanRows(dict(fetched), clean)


def random_home(rng: random.Random) -> tuple[Snapshot, list[StateEntry], dict[str, str]]:
    """A small home and state DB with every kind of difference between them, at random."""
    entries: list[LocalEntry] = []
    rows: list[StateEntry] = []
    hashes: dict[str, str] = {}
    for d in range(3):
        folder = f"d{d}"
        if rng.random() < 0.9:
            entries.append(ldir(folder))
        if rng.random() < 0.9:
            rows.append(row(folder, is_dir=True, drive_trashed=rng.random() < 0.1, drive_removed=rng.random() < 0.05))
        for f in range(6):
            path = f"{folder}/f{f}"
            kind = rng.choice(["same", "same", "same", "touched", "changed", "gone", "new", "edited-on-drive",
                               "trashed-on-drive", "deleted-row", "pending", "now-a-folder"])
            if kind != "new":
                rows.append(row(path, drive_md5=NEW if kind == "edited-on-drive" else OLD,
                                drive_trashed=kind == "trashed-on-drive", local_deleted=kind == "deleted-row",
                                status=EntryStatus.PENDING if kind == "pending" else EntryStatus.SYNCED))
            if kind == "gone":
                continue
            if kind == "now-a-folder":
                entries.append(ldir(path))
            elif kind == "touched":
                entries.append(lfile(path, mtime_ms=T_LOCAL))
                hashes[path] = OLD
            elif kind == "changed":
                entries.append(lfile(path, size=11, mtime_ms=T_LOCAL))
            else:
                entries.append(lfile(path))
    snap = Snapshot(entries={e.path: e for e in entries})
    return snap, rows, hashes


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("policy", [LWW, LW])
def test_rows_fetched_before_planning_give_the_same_plan(seed, policy):
    # PlanRows refuses to answer for a clean row it does not hold: a missing fetch fails loudly here
    snap, rows, hashes = random_home(random.Random(seed))
    for delete_policy in DeletePolicy:
        full = plan(snap, {r.path: copy.copy(r) for r in rows}, hashes, policy=policy, delete_policy=delete_policy)
        fetched = plan(snap, as_fetched(snap, rows), hashes, policy=policy, delete_policy=delete_policy)
        assert fetched == full


def test_a_quiet_day_fetches_no_row():
    entries = [ldir("d")] + [lfile(f"d/f{i}") for i in range(100)]
    rows = [row(e.path, is_dir=e.is_dir) for e in entries]
    snap = Snapshot(entries={e.path: e for e in entries})
    state = as_fetched(snap, rows)
    assert set(state.rows) == {"d"}  # the folder (never clean); every file is a key only
    assert plan(snap, state, {}).unchanged == 100


def test_only_changed_and_gone_files_are_fetched():
    entries = [lfile("same"), lfile("changed", size=11), lfile("new")]
    rows = [row("same"), row("changed"), row("gone"), row("edited", drive_md5=NEW)]
    snap = Snapshot(entries={e.path: e for e in entries})
    clean = {r.path: (r.path, r.is_dir, r.local_size, r.local_mtime_ns, r.local_ino) for r in rows if is_clean(r)}
    assert rows_planning_reads(snap, clean, [r for r in rows if r.path not in clean]) == {"changed", "gone"}


def test_a_trashed_folder_makes_planning_read_every_row():
    rows = [row("d", is_dir=True, drive_trashed=True), row("d/f")]
    snap = Snapshot(entries={e.path: e for e in [ldir("d"), lfile("d/f")]})
    assert rows_planning_reads(snap, {"d/f": ("d/f", False, 10, T0 * MS)}, rows[:1]) is None


def test_a_clean_row_not_fetched_is_never_taken_for_no_row():
    state = PlanRows({}, {"a.txt": ("a.txt", False, 10, T0 * MS)})
    assert "a.txt" in state and list(state) == ["a.txt"]
    with pytest.raises(LookupError):
        state.get("a.txt")
    assert state.get("other") is None
