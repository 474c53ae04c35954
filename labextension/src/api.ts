/**
 * The REST client for the server extension (DESIGN §6).
 *
 * Every call goes through `ServerConnection.makeRequest`, which adds the Jupyter token and the
 * XSRF header, so the same code works standalone, under JupyterHub and behind a base URL.
 * The server's JSON is normalised here, in one place, so the rest of the UI never guesses
 * at field names.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** One file the push did not copy, with the reason in words. */
export interface IFileProblem {
  path: string;
  reason: string;
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
  kind: 'reconnect' | 'drive_full' | 'daily_cap' | 'busy' | 'config' | 'nothing' | 'other';
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
}

/** The answers the first-login dialog can remember on the server. */
export type PromptChoice = 'not-now' | 'never';

/** An HTTP error from the server extension, with its JSON body when there is one. */
export class DriveSyncError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: any
  ) {
    super(message);
  }
}

const ROUTE = 'drive-sync';

/** The absolute URL of a drive-sync route (for links and popups, which cannot use fetch). */
export function routeUrl(...parts: string[]): string {
  const settings = ServerConnection.makeSettings();
  return URLExt.join(settings.baseUrl, ROUTE, ...parts);
}

async function request(
  parts: string[],
  init: RequestInit = {},
  okStatuses: number[] = [],
  query: Record<string, string> = {}
): Promise<any> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, ROUTE, ...parts) + URLExt.objectToQueryString(query);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const text = await response.text();
  let body: any = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = { message: text };
    }
  }
  if (!response.ok && !okStatuses.includes(response.status)) {
    const message =
      (body && (body.message || body.reason || body.error)) ||
      `${response.status} ${response.statusText}`;
    throw new DriveSyncError(
      typeof message === 'string' ? message : JSON.stringify(message),
      response.status,
      body
    );
  }
  return body;
}

function num(...values: unknown[]): number {
  for (const value of values) {
    if (typeof value === 'number' && Number.isFinite(value)) {
      return value;
    }
  }
  return 0;
}

/** Accepts ISO strings, epoch seconds and epoch milliseconds. */
export function parseTime(value: unknown): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) {
    return value < 1e12 ? value * 1000 : value;
  }
  if (typeof value === 'string' && value) {
    const parsed = Date.parse(value);
    return Number.isNaN(parsed) ? null : parsed;
  }
  return null;
}

function problems(value: unknown): IFileProblem[] {
  if (!Array.isArray(value)) {
    return [];
  }
  return value.map((item: any) => ({
    path: String(item?.path ?? ''),
    reason: String(item?.reason ?? item?.error ?? item?.message ?? '')
  }));
}

/** The server's error kinds (jobs.error_kind, handlers.translate) → what the UI says. */
const KINDS: Record<string, IRunError['kind']> = {
  needs_reauth: 'reconnect',
  not_connected: 'reconnect',
  drive_full: 'drive_full',
  upload_cap: 'daily_cap',
  already_running: 'busy',
  nothing_to_restore: 'nothing',
  config: 'config',
  not_configured: 'config'
};

/** Classify a run-level error from its kind, else from its message. */
export function classifyError(raw: any): IRunError | null {
  if (raw === null || raw === undefined || raw === false || raw === '') {
    return null;
  }
  const message =
    typeof raw === 'string'
      ? raw
      : String(raw.message ?? raw.detail ?? raw.reason ?? '');
  const code =
    typeof raw === 'string' ? '' : String(raw.kind ?? raw.error ?? raw.code ?? '');
  if (KINDS[code]) {
    return { kind: KINDS[code], message };
  }
  const haystack = `${code} ${message}`.toLowerCase();
  let kind: IRunError['kind'] = 'other';
  if (/invalid_grant|revoked|reconnect|not connected/.test(haystack)) {
    kind = 'reconnect';
  } else if (/storagequotaexceeded|storage quota|drive is full/.test(haystack)) {
    kind = 'drive_full';
  } else if (/daily upload|uploadlimit/.test(haystack)) {
    kind = 'daily_cap';
  }
  return { kind, message };
}

/** Normalise a push summary (`push --json` keys) into the UI's shape. */
export function parseSummary(raw: any): IPushSummary | null {
  if (!raw || typeof raw !== 'object') {
    return null;
  }
  const summary = raw.summary && typeof raw.summary === 'object' ? raw.summary : raw;
  return {
    created: num(summary.created),
    updated: num(summary.updated),
    unchanged: num(summary.unchanged),
    skipped: problems(summary.skipped),
    failed: problems(summary.failed),
    bytesUploaded: num(summary.bytes_uploaded),
    finishedAt: parseTime(
      raw.finished_at ??
        raw.finished ??
        raw.ended_at ??
        raw.time ??
        raw.at ??
        summary.finished_at ??
        summary.finished ??
        summary.ended_at
    )
  };
}

/** Normalise a restore summary (`restore --json` keys). */
export function parseRestoreSummary(raw: any): IRestoreSummary | null {
  if (!raw || typeof raw !== 'object') {
    return null;
  }
  return {
    restored: num(raw.restored),
    replaced: num(raw.replaced),
    unchanged: num(raw.unchanged),
    skippedExisting: num(raw.skipped_existing),
    foldersCreated: num(raw.folders_created),
    renamed: problems(raw.renamed),
    skipped: problems(raw.skipped),
    failed: problems(raw.failed),
    bytesDownloaded: num(raw.bytes_downloaded)
  };
}

const STATES: JobState[] = ['queued', 'running', 'done', 'failed'];

function jobState(raw: any): JobState {
  const state = String(raw.state ?? raw.status ?? 'running').toLowerCase();
  if ((STATES as string[]).includes(state)) {
    return state as JobState;
  }
  if (['finished', 'succeeded', 'success', 'completed', 'complete', 'ok'].includes(state)) {
    return 'done';
  }
  if (['error', 'errored', 'crashed', 'cancelled'].includes(state)) {
    return 'failed';
  }
  return state === 'pending' || state === 'starting' ? 'queued' : 'running';
}

/** Normalise a job: flat fields or a nested `progress` object are both accepted. */
export function parseJob(raw: any): IJob | null {
  if (!raw || typeof raw !== 'object') {
    return null;
  }
  const job = raw.job && typeof raw.job === 'object' ? raw.job : raw;
  const progress = job.progress && typeof job.progress === 'object' ? job.progress : job;
  const state = jobState(job);
  const error = classifyError(job.error ?? null);
  const kind: JobKind = job.kind === 'restore' ? 'restore' : 'push';
  const rawSummary = job.summary ?? job.result ?? null;
  return {
    id: String(job.id ?? job.job_id ?? ''),
    kind,
    state: error && state === 'done' ? 'failed' : state,
    phase: String(progress.phase ?? job.phase ?? ''),
    filesDone: num(progress.files_done),
    filesTotal: num(progress.files_total),
    bytesDone: num(progress.bytes_done),
    bytesTotal: num(progress.bytes_total),
    currentPath: progress.current_path ?? progress.current ?? null,
    errors: problems(progress.errors ?? job.errors),
    summary: kind === 'push' ? parseSummary(rawSummary) : null,
    restoreSummary: kind === 'restore' ? parseRestoreSummary(rawSummary) : null,
    error
  };
}

/** Normalise `GET drive-sync/status`. */
export function parseStatus(raw: any): IStatus {
  raw = raw ?? {};
  const job = parseJob(raw.job);
  return {
    configured: raw.configured !== false,
    connected: !!raw.connected,
    account: raw.account ?? null,
    needsReauth: !!raw.needs_reauth,
    prompt: !!raw.prompt,
    rootFolderUrl: raw.root_folder_url ?? null,
    folder: raw.folder ?? raw.root_folder_path ?? raw.folder_path ?? null,
    lastPush: parseSummary(raw.last_push),
    lastError: classifyError(raw.last_push?.error ?? null),
    job: job && job.id ? job : null,
    hasBackup: !!raw.has_backup
  };
}

/** Normalise one `GET drive-sync/remote` entry. */
function parseEntry(raw: any): IRemoteEntry {
  const size = Number(raw?.size);
  return {
    name: String(raw?.name ?? raw?.drive_name ?? ''),
    driveName: String(raw?.drive_name ?? raw?.name ?? ''),
    path: String(raw?.path ?? raw?.name ?? ''),
    isFolder: !!raw?.is_folder,
    size: raw?.size === null || raw?.size === undefined || !Number.isFinite(size) ? null : size,
    modified: parseTime(raw?.modified_time),
    restorable: raw?.restorable !== false,
    note: raw?.note ? String(raw.note) : null
  };
}

/** The server extension's routes, as typed calls. */
export const api = {
  async status(): Promise<IStatus> {
    return parseStatus(await request(['status']));
  },

  /** Start a push; when one already runs (409) its job is returned instead. */
  async push(): Promise<IJob> {
    const body = await request(['push'], { method: 'POST', body: '{}' }, [409]);
    const job = body && body.job ? parseJob(body.job) : null;
    if (!job || !job.id) {
      // A 409 without a job is a refusal (e.g. needs_reauth), not "already running".
      throw new DriveSyncError(body?.message ?? 'The push did not start.', 409, body);
    }
    return job;
  },

  async job(id: string): Promise<IJob> {
    const job = parseJob(await request(['push', encodeURIComponent(id)]));
    if (!job) {
      throw new DriveSyncError('The server returned no job.', 500, null);
    }
    if (!job.id) {
      job.id = id;
    }
    return job;
  },

  /**
   * Start a restore of `path` ("" = everything). Unlike a push, a running job (409) is not
   * joined: the restore did not start, so that is an `already_running` error.
   */
  async restore(path: string, overwrite: OverwritePolicy): Promise<IJob> {
    let body: any;
    try {
      body = await request(['restore'], {
        method: 'POST',
        body: JSON.stringify({ path, overwrite })
      });
    } catch (error) {
      if (error instanceof DriveSyncError && error.status === 409 && error.body?.job) {
        throw new DriveSyncError(error.message, 409, { ...error.body, error: 'already_running' });
      }
      throw error;
    }
    const job = body && body.job ? parseJob(body.job) : null;
    if (!job || !job.id) {
      throw new DriveSyncError('The restore did not start.', 500, body);
    }
    return job;
  },

  /** What the Drive backup holds at `path` ("" = the backup folder itself). */
  async remote(path: string): Promise<IRemoteListing> {
    const body = (await request(['remote'], {}, [], { path })) ?? {};
    return {
      path: String(body.path ?? path),
      entries: Array.isArray(body.entries) ? body.entries.map(parseEntry) : []
    };
  },

  async prompt(choice: PromptChoice): Promise<void> {
    await request(['prompt'], {
      method: 'POST',
      body: JSON.stringify({ choice })
    });
  },

  async disconnect(): Promise<void> {
    await request(['disconnect'], { method: 'POST', body: '{}' });
  },

  /** The page that starts Google's consent (opened in a popup, never fetched). */
  authStartUrl(): string {
    return routeUrl('auth', 'start');
  }
};
