"""Push one home to Drive: scan, merge the Drive changes feed, plan, execute.

INTERFACE (agreed between the CLI, the server extension and the hub job; implement it here):

    @dataclass
    class PushOptions:
        home: Path
        user: str | None = None                 # default: the home's basename
        folder_template: str = "home/{username}"
        api_root: str = "https://www.googleapis.com/"
        credentials_path: Path | None = None    # default: <home>/.local/share/jupyter/drive_sync/credentials.json
        encryption_key: str | None = None       # Fernet key for the credentials file
        policy: Policy = Policy.LAST_WRITE_WINS
        delete_policy: DeletePolicy = DeletePolicy.KEEP
        workers: int = 8
        dry_run: bool = False
        max_file_size: int = 5 * 1024**4
        extra_excludes: tuple[str, ...] = ()
        wait_for_lock: float = 0.0               # seconds to wait for the home lock; 0 = fail at once
        pacer: Pacer | None = None               # shared by the hub job across homes

    @dataclass
    class ProgressEvent:
        phase: str            # "scanning" | "planning" | "uploading" | "done"
        files_done: int; files_total: int; bytes_done: int; bytes_total: int
        current_path: str | None
        errors: list[dict]    # [{path, error}] so far

    def run_push(options: PushOptions, progress: Callable[[ProgressEvent], None] | None = None) -> PushSummary
        # raises errors.NotConnected (no credentials / needs reconnect), errors.DriveRefused (storage full,
        # daily cap), errors.AlreadyRunning (lock held), errors.ConfigError; per-file problems go in the summary.
        # The summary is also saved in the state DB (last push) for `status`.
"""
