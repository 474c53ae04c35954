/**
 * The server's JSON → the UI's shapes (`types.ts`). Pure functions, kept apart from the HTTP
 * client so they can be unit-tested without a server: every field is checked, a missing or
 * malformed one becomes a safe default instead of `undefined` leaking into a widget.
 */
import { classifyError } from './errors';
import type {
  IFileProblem,
  IJob,
  IPushSummary,
  IRemoteEntry,
  IRemoteListing,
  IRestoreSummary,
  IStatus,
  JobKind,
  JobState,
  ProblemCategory
} from './types';

/** A response body: JSON when it parses, else its text as `{message}`; null when empty. */
export function parseBody(text: string): any {
  if (!text) {
    return null;
  }
  try {
    return JSON.parse(text);
  } catch {
    return { message: text };
  }
}

/** The words of a failed response: the body's own message, else the HTTP status line. */
export function errorMessage(body: any, status: number, statusText: string): string {
  const message = (body && (body.message || body.reason || body.error)) || `${status} ${statusText}`;
  return typeof message === 'string' ? message : JSON.stringify(message);
}

/** The first finite number among `values`, else 0 (counts never show as NaN). */
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

const CATEGORIES: ProblemCategory[] = ['on_purpose', 'notice', 'problem'];

/** Entries of `skipped`/`failed`; `fallback` is the category when the server sent none. */
function problems(value: unknown, fallback: ProblemCategory = 'problem'): IFileProblem[] {
  if (!Array.isArray(value)) {
    return [];
  }
  return value.map((item: any) => ({
    path: String(item?.path ?? ''),
    reason: String(item?.reason ?? item?.error ?? item?.message ?? ''),
    category: (CATEGORIES as unknown[]).includes(item?.category)
      ? (item.category as ProblemCategory)
      : fallback,
    isFolder: item?.is_folder === true
  }));
}

/** A finite, non-negative number, else null ("not known"). */
function optionalNum(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : null;
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
    // A failure is always a problem, whatever an entry says.
    failed: problems(summary.failed).map(p => ({ ...p, category: 'problem' as const })),
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
    etaSeconds: optionalNum(progress.eta_seconds ?? job.eta_seconds),
    filesPerSecond: optionalNum(progress.files_per_second ?? job.files_per_second),
    bytesPerSecond: optionalNum(progress.bytes_per_second ?? job.bytes_per_second),
    currentKind:
      typeof (progress.current_kind ?? job.current_kind) === 'string'
        ? String(progress.current_kind ?? job.current_kind)
        : null,
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
    hasBackup: !!raw.has_backup,
    authError: classifyError(raw.auth_error ?? null),
    authErrorAt: parseTime(raw.auth_error?.at)
  };
}

/** Normalise one `GET drive-sync/remote` entry. */
export function parseRemoteEntry(raw: any): IRemoteEntry {
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

/** Normalise `GET drive-sync/remote?path=`; `path` is the folder asked for (the fallback). */
export function parseRemoteListing(raw: any, path: string): IRemoteListing {
  const body = raw ?? {};
  return {
    path: String(body.path ?? path),
    entries: Array.isArray(body.entries) ? body.entries.map(parseRemoteEntry) : []
  };
}

/** The job in a `POST push` / `POST restore` answer, or null when none was started. */
export function parseStartedJob(body: any): IJob | null {
  const job = body && body.job ? parseJob(body.job) : null;
  return job && job.id ? job : null;
}
