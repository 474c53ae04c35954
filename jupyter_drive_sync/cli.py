"""The one executable, `jupyter-drive-sync` (also `jupyter drive-sync`).

Each sub-command lives in its own module; this file only parses arguments (the CLI is a
contract, DESIGN §6) and imports the module it needs, so `--version` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from . import __version__

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_CONNECTED = 3
EXIT_DRIVE_REFUSED = 4


def _add_emulator(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("emulator", help="run the local Google Drive v3 + OAuth 2.0 stand-in")
    p.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0 picks a free one)")
    p.add_argument("--data-dir", default=None, help="keep accounts and files here across restarts")
    p.add_argument("--latency-ms", type=float, default=0.0, help="added to every Drive request")
    p.add_argument("--quota-per-minute", type=int, default=0,
                   help="per-user quota units per minute (0: unlimited)")
    p.add_argument("--fault-rate", type=float, default=0.0, help="probability of an injected fault")
    p.add_argument("--seed", type=int, default=None, help="seed for faults and generated ids")
    p.set_defaults(func=_run_emulator)


def _run_emulator(args: argparse.Namespace) -> int:
    from .emulator.server import run

    return run(
        port=args.port,
        data_dir=args.data_dir,
        latency_ms=args.latency_ms,
        quota_per_minute=args.quota_per_minute,
        fault_rate=args.fault_rate,
        seed=args.seed,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jupyter-drive-sync",
        description="Back up a Jupyter home folder into the user's own Google Drive.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_emulator(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
