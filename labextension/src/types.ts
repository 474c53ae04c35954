/**
 * The shapes the UI works with, already normalised from the server's JSON (see `parse.ts`),
 * so no widget ever guesses at a field name or a snake_case key.
 */

/**
 * Why the server says a path was left out (`category` in the summary's entries, decided by
 * `engine/status.py`): a rule followed on purpose, something worth knowing, or a real problem.
 */
export type ProblemCategory = 'on_purpose' | 'notice' | 'problem';

/** One path the push did not copy, with the reason in words. */
export interface IFileProblem {
  path: string;
  reason: string;
  category: ProblemCategory;
  /** A folder (with everything in it), counted as "1 folder", not "1 file". */
  isFolder: boolean;
}

/** What a finished push reports (a subset of the CLI's `push --json` summary). */
export interface IPushSummary {
  created: number;
  updated: number;
  unchanged: number;
  skipped: IFileProblem[];
  failed: IFileProblem[];
  bytesUploaded: number;
  /** When the push finished, in ms since the epoch (null when unknown). */
  finishedAt: number | null;
}

export type JobState = 'queued' | 'running' | 'done' | 'failed';

/** What a finished restore reports (the CLI's `restore --json` summary). */
export interface IRestoreSummary {
  restored: number;
  replaced: number;
  unchanged: number;
  /** Local files kept because of the overwrite choice ("kept M of yours"). */
  skippedExisting: number;
  foldersCreated: number;
  renamed: IFileProblem[];
  skipped: IFileProblem[];
  failed: IFileProblem[];
  bytesDownloaded: number;
}

/** A run-level error, classified so the UI can say what to do about it. */
export interface IRunError {
  kind:
    | 'reconnect'
    | 'drive_full'
    | 'daily_cap'
    | 'busy'
    | 'config'
    | 'nothing'
    | 'environment'
    | 'network'
    | 'drive_error'
    | 'denied'
    | 'signin'
    | 'session'
    | 'server'
    | 'internal'
    | 'other';
  message: string;
}

/** What the job does: back up (push) or bring files back (restore). */
export type JobKind = 'push' | 'restore';

/** A background push or restore as `GET drive-sync/push/<id>` describes it. */
export interface IJob {
  id: string;
  kind: JobKind;
  state: JobState;
  phase: string;
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  currentPath: string | null;
  /** Seconds left, as the push estimates it (null: not known yet). */
  etaSeconds: number | null;
  filesPerSecond: number | null;
  bytesPerSecond: number | null;
  /** Which kind of files it is on: "notebooks", "code and text", "data and media", "folders". */
  currentKind: string | null;
  errors: IFileProblem[];
  summary: IPushSummary | null;
  /** Set for a finished restore (its summary has other keys than a push's). */
  restoreSummary: IRestoreSummary | null;
  error: IRunError | null;
}

/** The overwrite choice of a restore (the CLI's `--overwrite`). */
export type OverwritePolicy = 'never' | 'older' | 'always';

/** One item of `GET drive-sync/remote`: a file or folder in the Drive backup. */
export interface IRemoteEntry {
  /** The local name the restore would use (may differ from Drive's, see `note`). */
  name: string;
  driveName: string;
  /** Relative to the home; what `POST drive-sync/restore` takes. */
  path: string;
  isFolder: boolean;
  size: number | null;
  /** ms since the epoch, null when Drive gave none. */
  modified: number | null;
  restorable: boolean;
  /** Why it is renamed or cannot be restored (e.g. a Google Docs file), else null. */
  note: string | null;
}

/** `GET drive-sync/remote?path=`: one folder of the backup, folders first. */
export interface IRemoteListing {
  path: string;
  entries: IRemoteEntry[];
}

/** `GET drive-sync/status`. */
export interface IStatus {
  configured: boolean;
  connected: boolean;
  account: string | null;
  needsReauth: boolean;
  prompt: boolean;
  rootFolderUrl: string | null;
  folder: string | null;
  lastPush: IPushSummary | null;
  /** How the last push ended early (null when it finished). */
  lastError: IRunError | null;
  job: IJob | null;
  /** The Drive folder already holds a backup (a new hub or volume): offer "Restore my files". */
  hasBackup: boolean;
  /** How the last sign-in ended without connecting (consent denied...), null otherwise. */
  authError: IRunError | null;
  /** When that sign-in ended, in ms since the epoch. */
  authErrorAt: number | null;
}

/** The answers the first-login dialog can remember on the server. */
export type PromptChoice = 'not-now' | 'never';
