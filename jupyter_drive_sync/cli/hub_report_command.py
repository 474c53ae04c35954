"""`jupyter-drive-sync hub report FILE...`: the nightly JSON lines as the admin's overview.

Files are nights, oldest first (`-` reads standard input); the output is text, `--json`, or one
self-contained HTML page (`--html PAGE`). A file that cannot be read is one line and exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence, TextIO

from ..core.errors import EXIT_OK, EXIT_USAGE
from ..hub.overview import build, render_html, render_text


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="jupyter-drive-sync hub report",
        description="Summarise nightly `hub` runs: who is backed up, who must reconnect, who hit Drive "
                    "limits or is blocked by configuration.")
    p.add_argument("nights", nargs="+", metavar="FILE",
                   help="JSON lines of one night each, oldest first (`-`: standard input)")
    p.add_argument("--html", metavar="PAGE", default=None, help="also write one self-contained HTML page here")
    p.add_argument("--json", action="store_true", help="print the overview as one JSON object")
    return p


def _read(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    return Path(name).read_text(encoding="utf-8", errors="replace")


def main(argv: Sequence[str], out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args = build_parser().parse_args(list(argv))
    nights = []
    for name in args.nights:
        try:
            nights.append((Path(name).name if name != "-" else "stdin", _read(name)))
        except OSError as exc:
            print(f"jupyter-drive-sync hub report: cannot read {name}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_USAGE
    view = build(nights)
    if args.html:
        try:
            Path(args.html).write_text(render_html(view), encoding="utf-8")
        except OSError as exc:
            print(f"jupyter-drive-sync hub report: cannot write {args.html}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_USAGE
    out.write(json.dumps(view.as_dict(), indent=2) + "\n" if args.json else render_text(view))
    return EXIT_OK
