"""The admin's overview of one or more nights: who is backed up, who must act, and on what.

`hub report` reads the JSON lines the nightly run wrote (report.py's format) and sorts every
student into one group by their latest line, so the admin sees counts and, per group, the list
of who needs what. Pure: text in, text out; the CLI reads the files and writes the page.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any, Iterable

from .report import continues

# One group per kind of outcome, in the order the admin should read them. `who` says who acts.
GROUPS: tuple[tuple[str, str, str], ...] = (
    ("config", "Blocked by configuration", "the admin: fix the hub's Drive sync settings (see ADMIN.md), the student does nothing"),
    ("reconnect", "Need to reconnect", "the student: open JupyterLab and connect Google Drive again"),
    ("limits", "Hit Drive limits", "the student if their Drive is full; nobody if it is Google's daily cap (it retries tomorrow)"),
    ("continues", "Continue next night", "nobody: a large first backup is split over several nights"),
    ("failed", "Some files failed", "the admin: the reasons below say which files and why"),
    ("error", "Run errors", "the admin: the nightly job could not back this home up (see the reason)"),
    ("ok", "Backed up", ""),
    ("busy", "Backed up by their own server", "nobody: the student's server was running and backs the home up itself"),
    ("not_connected", "Not connected", "the student, if they want backups: connect Google Drive in JupyterLab"),
)
GROUP_TITLES = {key: title for key, title, _ in GROUPS}
_STATUS_GROUP = {
    "ok": "ok", "needs_reconnect": "reconnect", "drive_refused": "limits", "failed": "failed", "partial": "failed",
    "error": "error", "timeout": "error", "busy": "busy", "skipped": "busy", "not_connected": "not_connected",
    "config_error": "config",
}


def group_of(line: dict[str, Any]) -> str:
    """The overview group of one user line (unknown statuses are run errors: someone must look).

    "Continues next night" is report.continues, the same test the night's exit code uses, so a
    line is never "nobody acts" here while the run says someone must (a partial with failures)."""
    if continues(line):
        return "continues"
    return _STATUS_GROUP.get(str(line.get("status", "")), "error")


@dataclass
class Student:
    user: str
    group: str
    status: str
    reason: str
    night: str  # the night of the line that set the group
    last_backed_up: str | None  # the last night read with status ok, if any
    nights_without_backup: int  # nights read since the last ok (all of them if never)


@dataclass
class Overview:
    nights: list[str]
    students: dict[str, Student] = field(default_factory=dict)
    ignored_lines: int = 0  # lines that were not report lines (a log mixed in, a cut line)

    def counts(self) -> dict[str, int]:
        out = {key: 0 for key, _, _ in GROUPS}
        for s in self.students.values():
            out[s.group] += 1
        return out

    def members(self, group: str) -> list[Student]:
        return sorted((s for s in self.students.values() if s.group == group), key=lambda s: s.user)

    @property
    def connected(self) -> int:
        return sum(1 for s in self.students.values() if s.group != "not_connected")

    def as_dict(self) -> dict[str, Any]:
        return {
            "nights": self.nights, "students": len(self.students), "connected": self.connected,
            "counts": self.counts(), "ignored_lines": self.ignored_lines,
            "needs": {key: [vars(s) for s in self.members(key)] for key, _, _ in GROUPS
                      if key not in ("ok", "busy")},
        }


def parse_lines(text: str) -> tuple[list[dict[str, Any]], int]:
    """The JSON objects of one night's output, and how many lines were something else."""
    lines, ignored = [], 0
    for raw in text.splitlines():
        raw = raw.strip()
        if not raw:
            continue
        try:
            obj = json.loads(raw)
        except ValueError:
            ignored += 1
            continue
        if isinstance(obj, dict) and obj.get("type") in ("user", "summary"):
            lines.append(obj)
        else:
            ignored += 1
    return lines, ignored


def build(nights: Iterable[tuple[str, str]]) -> Overview:
    """The overview of nights given oldest first as (label, JSON-lines text)."""
    nights = list(nights)
    view = Overview(nights=[label for label, _ in nights])
    last_ok: dict[str, tuple[str, int]] = {}  # user → (night label, index)
    for index, (label, text) in enumerate(nights):
        lines, ignored = parse_lines(text)
        view.ignored_lines += ignored
        for line in lines:
            if line.get("type") != "user" or not line.get("user"):
                continue
            user = str(line["user"])
            status = str(line.get("status", ""))
            if status == "ok":
                last_ok[user] = (label, index)
            view.students[user] = Student(
                user=user, group=group_of(line), status=status, reason=str(line.get("reason", "")),
                night=label, last_backed_up=None, nights_without_backup=0)
    for user, student in view.students.items():
        ok = last_ok.get(user)
        student.last_backed_up = ok[0] if ok else None
        student.nights_without_backup = len(nights) - 1 - ok[1] if ok else len(nights)
    return view


def _since(s: Student) -> str:
    if s.last_backed_up is None:
        return "never backed up in these nights"
    if s.nights_without_backup == 0:
        return "backed up last night"
    return f"last backed up {s.last_backed_up} ({s.nights_without_backup} night(s) ago)"


def render_text(view: Overview) -> str:
    counts = view.counts()
    out = [
        f"Drive backups: {len(view.nights)} night(s) read, the last: {view.nights[-1] if view.nights else '-'}",
        f"Students: {len(view.students)}   connected: {view.connected}   "
        f"backed up last night: {counts['ok'] + counts['busy']}",
        "   ".join(f"{GROUP_TITLES[k].lower()}: {counts[k]}" for k, _, _ in GROUPS if k not in ("ok", "busy")),
    ]
    if view.ignored_lines:
        out.append(f"({view.ignored_lines} line(s) were not report lines and were left out)")
    for key, title, who in GROUPS:
        members = view.members(key)
        if not members or key in ("ok", "busy", "not_connected"):
            continue
        out += ["", f"{title} ({len(members)}) — who acts: {who}"]
        for s in members:
            reason = f": {s.reason}" if s.reason else ""
            out.append(f"  {s.user} [{s.status}]{reason} — {_since(s)}")
    if counts["not_connected"]:
        names = ", ".join(s.user for s in view.members("not_connected"))
        out += ["", f"Not connected ({counts['not_connected']}): {names}"]
    return "\n".join(out) + "\n"


_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem;color:#1f2328;max-width:70rem}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}
.cards{display:flex;flex-wrap:wrap;gap:.6rem}.card{border:1px solid #d0d7de;border-radius:8px;padding:.6rem .9rem;min-width:9rem}
.card b{display:block;font-size:1.5rem}.card.act b{color:#b42318}.card.good b{color:#1a7f37}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
.who{color:#57606a}
"""


def render_html(view: Overview) -> str:
    """One self-contained page (no scripts, no outside resources); every value is escaped."""
    e = html.escape
    counts = view.counts()
    cards = [f'<div class="card good" data-group="connected"><b>{view.connected}</b>connected of {len(view.students)}</div>']
    for key, title, _ in GROUPS:
        cls = "good" if key in ("ok", "busy") else ("" if key in ("not_connected", "continues") else "act" if counts[key] else "")
        cards.append(f'<div class="card {cls}" data-group="{key}"><b>{counts[key]}</b>{e(title)}</div>')
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<title>Drive backups: nightly overview</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Drive backups: nightly overview</h1>",
        f"<p>{len(view.nights)} night(s) read; the last: {e(view.nights[-1] if view.nights else '-')}.</p>",
        f'<div class="cards">{"".join(cards)}</div>',
    ]
    for key, title, who in GROUPS:
        members = view.members(key)
        if not members or key in ("ok", "busy"):
            continue
        parts.append(f'<h2 id="{key}">{e(title)} ({len(members)})</h2>')
        if who:
            parts.append(f'<p class="who">Who acts: {e(who)}</p>')
        rows = "".join(
            f"<tr><td>{e(s.user)}</td><td>{e(s.status)}</td><td>{e(s.reason)}</td><td>{e(_since(s))}</td></tr>"
            for s in members)
        parts.append(f"<table><tr><th>student</th><th>status</th><th>reason</th><th>last backup</th></tr>{rows}</table>")
    if view.ignored_lines:
        parts.append(f"<p class=who>{view.ignored_lines} line(s) were not report lines and were left out.</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
