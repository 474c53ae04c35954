"""The one executable, `jupyter-drive-sync` (also `jupyter drive-sync`).

Each sub-command lives in its own module; this file only parses arguments (the CLI's flags,
output and exit statuses are a contract) and imports the module a command needs only when
that command runs, so `--version` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from .. import __version__
from ..core.errors import EXIT_USAGE


def _add_emulator(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("emulator", help="run the local Google Drive v3 + OAuth 2.0 stand-in")
    p.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0 picks a free one)")
    p.add_argument("--data-dir", default=None, help="keep accounts and files here across restarts")
    # Flags left out keep the profile's value (None: not given).
    p.add_argument("--profile", choices=["fast", "google"], default="fast",
                   help="fast: no limits, no latency (default); google: Google's write rate, quotas, "
                        "token lifetime and round-trip time at once")
    p.add_argument("--latency-ms", type=float, default=None, help="added to every Drive request")
    p.add_argument("--write-latency-ms", type=float, default=None,
                   help="instead of --latency-ms for requests that change something")
    p.add_argument("--write-rate", type=float, default=None, metavar="R",
                   help="sustained write calls per second per account (0: unlimited; google: 3)")
    p.add_argument("--write-burst", type=int, default=None, metavar="B",
                   help="write calls allowed at once above the rate (google: 10)")
    p.add_argument("--quota-per-minute", type=int, default=None,
                   help="per-user quota units per minute (0: unlimited; google: 12000)")
    p.add_argument("--project-quota-per-minute", type=int, default=None, metavar="P",
                   help="quota units per minute for all users together (0: unlimited; google: 12000)")
    p.add_argument("--fault-rate", type=float, default=None, help="probability of an injected fault")
    p.add_argument("--seed", type=int, default=None, help="seed for faults and generated ids")
    p.add_argument("--refresh-token-lifetime", type=int, default=None, metavar="SECONDS",
                   help="refresh tokens expire this long after issue, as for a Google app in "
                        "'Testing' status (0: never; default 0, --profile google 7 days)")
    p.set_defaults(func=_run_emulator)


def _run_emulator(args: argparse.Namespace) -> int:
    from ..emulator.server import run

    return run(
        port=args.port,
        data_dir=args.data_dir,
        profile=args.profile,
        latency_ms=args.latency_ms,
        write_latency_ms=args.write_latency_ms,
        write_rate=args.write_rate,
        write_burst=args.write_burst,
        quota_per_minute=args.quota_per_minute,
        project_quota_per_minute=args.project_quota_per_minute,
        fault_rate=args.fault_rate,
        seed=args.seed,
        refresh_token_lifetime_s=args.refresh_token_lifetime,
    )


def _add_hub(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("hub", help="the nightly all-users push (shared homes or per-user PVCs); "
                                   "`hub report FILE...` summarises nights for the admin")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--homes-root", metavar="DIR", help="every subdirectory is a user's home")
    mode.add_argument("--kubernetes", action="store_true", help="dispatch one Job per user PVC")
    mode.add_argument("--home", metavar="DIR", help="one home (what each per-PVC Job runs)")
    p.add_argument("--user", help="with --home: the user's name (default: JUPYTERHUB_USER)")
    p.add_argument("--termination-log", metavar="FILE", help="with --home: also write the report line here")
    p.add_argument("--api-root", default=None, help="Drive API root (default: Google's)")
    p.add_argument("--client-secrets", default=None, metavar="FILE")
    p.add_argument("--folder-template", default="home/{username}")
    p.add_argument("--policy", choices=["last-write-wins", "local-wins"], default="last-write-wins")
    p.add_argument("--delete", choices=["keep", "trash"], default="keep")
    p.add_argument("--workers", type=int, default=4, help="parallel requests per home")
    p.add_argument("--shard-index", type=int, default=None, help="default: JOB_COMPLETION_INDEX")
    p.add_argument("--shard-count", type=int, default=None, help="default: JOB_COMPLETIONS")
    p.add_argument("--parallel", type=int, default=4, help="homes pushed at once")
    p.add_argument("--rate", type=float, default=1000.0, help="Drive requests/s shared by all homes")
    p.add_argument("--wait-for-lock", type=float, default=0.0, metavar="SECONDS")
    p.add_argument("--project-quota-per-minute", type=float, default=None, metavar="Q",
                   help="the Cloud project's Drive API quota (units/min; one call = one unit), shared by "
                        "all homes of the run (default: --rate); leave room for the running servers")
    p.add_argument("--user-quota-per-minute", type=float, default=12000.0, metavar="Q",
                   help="the per-user Drive API quota (units/min), paced per home")
    p.add_argument("--write-rate", type=float, default=None, metavar="R",
                   help="Drive writes/s per student account (default: Google's sustained limit, about 3)")
    p.add_argument("--max-minutes-per-home", type=float, default=None, metavar="M",
                   help="a home's time budget per night; the rest continues the next night")
    k = p.add_argument_group("--kubernetes")
    k.add_argument("--namespace", default=None, help="default: the pod's own namespace")
    k.add_argument("--image", default=None, help="image of the push Jobs (default: DRIVE_SYNC_IMAGE)")
    k.add_argument("--secret-name", default="jupyter-drive-sync")
    k.add_argument("--pvc-selector", default="component=singleuser-storage")
    k.add_argument("--server-selector", default="component=singleuser-server")
    k.add_argument("--release", default=None, help="also select app.kubernetes.io/instance=RELEASE")
    k.add_argument("--running-users", choices=["skip", "pin"], default="skip")
    k.add_argument("--max-parallel", type=int, default=10)
    k.add_argument("--active-deadline", type=int, default=3600, metavar="SECONDS")
    k.add_argument("--ttl", type=int, default=6 * 3600, metavar="SECONDS")
    k.add_argument("--backoff-limit", type=int, default=2)
    k.add_argument("--night", default=None, help="YYYY-MM-DD in Job names (default: today, UTC)")
    k.add_argument("--job-prefix", default="drive-sync")
    k.add_argument("--poll-seconds", type=float, default=10.0)
    k.add_argument("--wait-timeout", type=float, default=0.0, metavar="SECONDS", help="0: no limit")
    k.add_argument("--kube-host", default=None, help="API server URL (default: in-cluster, kubeconfig)")
    k.add_argument("--hub-api-url", default=None, help="skip users idle since their last push")

    def run(args: argparse.Namespace) -> int:
        from .hub_command import main as hub_main

        return hub_main(args)

    p.set_defaults(func=run)


def _add_account_options(p: argparse.ArgumentParser) -> None:
    """The options every per-home command shares (auth, status, disconnect, push, restore)."""
    p.add_argument("--home", default=None, metavar="DIR", help="the home folder (default: $HOME)")
    p.set_defaults(home_from_env=True)  # main() fills --home from $HOME for these commands only
    p.add_argument("--user", default=None, help="name in the Drive folder (default: JUPYTERHUB_USER or the home's name)")
    p.add_argument("--api-root", default=None, metavar="URL", help="Drive API root (default: Google's)")
    p.add_argument("--client-secrets", default=None, metavar="FILE", help="OAuth client secrets JSON")
    p.add_argument("--credentials", default=None, metavar="FILE",
                   help="credentials file (default: <home>/.local/share/jupyter/drive_sync/credentials.json)")


def _add_auth(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "auth", help="connect Google Drive from a terminal",
        description="Connect Google Drive. In a JupyterHub terminal: prints the link to your server's own "
                    "sign-in page. On a computer with a browser: a Desktop client's sign-in with a loopback "
                    "redirect. On a machine without a browser (or with --device): a code to enter on any "
                    "phone or computer (needs a 'TVs and Limited Input devices' client).")
    _add_account_options(p)
    how = p.add_mutually_exclusive_group()
    how.add_argument("--device", action="store_true",
                     help="sign in with a code entered on another device (no browser needed here)")
    how.add_argument("--loopback", action="store_true",
                     help="sign in in a browser that returns to this machine, even in a hub terminal")
    p.add_argument("--no-browser", action="store_true", help="loopback: only print the URL to open")
    p.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS", help="loopback: how long to wait")
    p.add_argument("--hub-url", default=None, metavar="URL",
                   help="in a hub terminal: the hub's public address (default: $JUPYTERHUB_PUBLIC_HUB_URL)")

    def run(args: argparse.Namespace) -> int:
        from .auth_commands import cmd_auth

        return cmd_auth(args)

    p.set_defaults(func=run)


def _add_push(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("push", help="back up one home to Google Drive now")
    _add_account_options(p)
    p.add_argument("--dry-run", action="store_true", help="show what would be done; change nothing")
    p.add_argument("--json", action="store_true", help="print one summary object on stdout")
    p.add_argument("--workers", type=int, default=None, metavar="N", help="parallel uploads")
    p.add_argument("--policy", choices=["last-write-wins", "local-wins"], default=None)
    p.add_argument("--delete", choices=["keep", "trash"], default=None,
                   help="what a local deletion does on Drive (default: keep)")
    p.add_argument("--write-rate", type=float, default=None, metavar="R",
                   help="Drive writes per second for this account (default: Google's sustained limit, "
                        "about 3; 0: unpaced)")
    p.add_argument("--order", choices=["work-first", "path"], default=None,
                   help="work-first: notebooks, then code and text, newest first, then data and media "
                        "(default); path: folders, then files by path")

    def run(args: argparse.Namespace) -> int:
        from .push_command import cmd_push

        return cmd_push(args)

    p.set_defaults(func=run)


def _add_restore(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "restore",
        help="bring files back from Google Drive into the home",
        description="Download the home's Drive folder (or --path, one folder or file of it) into the home. "
                    "With the drive.file permission this sees only what this app put on Drive (what earlier "
                    "backups uploaded), not other files in your Drive. Local files are never replaced unless "
                    "--overwrite says so.",
    )
    _add_account_options(p)
    p.add_argument("--path", default="", metavar="SUBPATH",
                   help="only this folder or file, relative to the home (default: everything)")
    p.add_argument("--overwrite", choices=["never", "older", "always"], default="never",
                   help="never: keep every local file (default); older: replace local files older than "
                        "Drive's copy; always: Drive's copy replaces a different local file")
    p.add_argument("--dry-run", action="store_true", help="show what would be done; change nothing")
    p.add_argument("--json", action="store_true", help="print one summary object on stdout")
    p.add_argument("--workers", type=int, default=None, metavar="N", help="parallel downloads")

    def run(args: argparse.Namespace) -> int:
        from .restore_command import cmd_restore

        return cmd_restore(args)

    p.set_defaults(func=run)


def _add_status(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="connected?, account, Drive folder, last push")
    _add_account_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--offline", action="store_true", help="do not ask Google whether the sign-in still holds")

    def run(args: argparse.Namespace) -> int:
        from .auth_commands import cmd_status

        return cmd_status(args)

    p.set_defaults(func=run)


def _add_disconnect(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("disconnect", help="revoke the Google sign-in and delete the stored credentials")
    _add_account_options(p)

    def run(args: argparse.Namespace) -> int:
        from .auth_commands import cmd_disconnect

        return cmd_disconnect(args)

    p.set_defaults(func=run)


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="JupyterLab wired to the embedded Drive emulator (no Google account)")
    p.add_argument("--workdir", default=".demo", help="where the sample home and the emulator's data live")
    p.add_argument("--port", type=int, default=8765, help="emulator port on 127.0.0.1 (taken: any free one)")
    p.add_argument("--lab-port", type=int, default=8888, help="JupyterLab port on 127.0.0.1")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    p.add_argument("--no-lab", action="store_true",
                   help="no JupyterLab: connect the sample home and push it from the command line")
    p.add_argument("--exit", action="store_true", help="with --no-lab: exit after the push instead of serving")
    p.set_defaults(func=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from .demo import run

    return run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jupyter-drive-sync",
        description="Back up a Jupyter home folder into the user's own Google Drive.",
        epilog="exit status: 0 done; 1 some files failed; 2 usage, configuration or environment problem "
               "(permissions, another owner, full disk, too many open files, state DB of a newer version); "
               "3 not connected or must reconnect; 4 Drive refused the run (storage full, daily cap). "
               "Errors are one line on stderr (JUPYTER_DRIVE_SYNC_DEBUG=1: with the traceback when unexpected).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_emulator(sub)
    _add_hub(sub)
    _add_auth(sub)
    _add_push(sub)
    _add_restore(sub)
    _add_status(sub)
    _add_disconnect(sub)
    _add_demo(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["hub", "report"]:  # its own parser: `hub` itself needs one of its run modes
        from .hub_report_command import main as hub_report_main

        return hub_report_main(argv[2:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    if getattr(args, "home_from_env", False) and not args.home:
        args.home = os.environ.get("HOME", "")  # a hub terminal's $HOME is the home to back up
        if not args.home:
            print(f"jupyter-drive-sync {args.command}: no home folder: pass --home DIR (HOME is not set)",
                  file=sys.stderr)
            return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except Exception as exc:  # noqa: BLE001 - one line and an exit status, never a traceback
        from .output import report_error  # here, not at the top: it imports the engine (--version stays fast)

        return report_error(f"jupyter-drive-sync {args.command}", exc)


if __name__ == "__main__":
    sys.exit(main())
