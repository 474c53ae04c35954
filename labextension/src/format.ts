/**
 * Words and numbers shown to students. Pure functions, so every widget says the same thing
 * (what went wrong is worded in `errors.ts`).
 */
import { describeError } from './errors';
import type {
  IFileProblem,
  IJob,
  IPushSummary,
  IRestoreSummary,
  IRunError,
  IStatus,
  OverwritePolicy
} from './types';

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

/** A size in decimal units ("1.5 MB", "12 KB"): one decimal only below 10, to stay short. */
export function formatBytes(bytes: number): string {
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  const digits = unit === 0 || value >= 10 ? 0 : 1;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** "just now", "3 min ago", "2 h ago", "4 days ago". */
export function timeAgo(when: number, now: number = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - when) / 1000));
  if (seconds < 45) {
    return 'just now';
  }
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) {
    return `${minutes} min ago`;
  }
  const hours = Math.round(minutes / 60);
  if (hours < 24) {
    return `${hours} h ago`;
  }
  const days = Math.round(hours / 24);
  return days === 1 ? 'yesterday' : `${days} days ago`;
}

/** Percent done, by bytes when known (uploads dominate), else by files. */
export function percent(job: IJob): number | null {
  if (job.bytesTotal > 0) {
    return Math.min(100, Math.floor((100 * job.bytesDone) / job.bytesTotal));
  }
  if (job.filesTotal > 0) {
    return Math.min(100, Math.floor((100 * job.filesDone) / job.filesTotal));
  }
  return null;
}

/** A count with thousands separators: "2,000". */
export function formatCount(n: number): string {
  return Math.max(0, Math.round(n)).toLocaleString('en-US');
}

/** Time left in words: "less than a minute left", "about 11 min left", "about 2 h 5 min left". */
export function etaText(seconds: number): string {
  if (seconds < 45) {
    return 'less than a minute left';
  }
  const minutes = Math.max(1, Math.round(seconds / 60));
  if (minutes < 60) {
    return `about ${minutes} min left`;
  }
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest ? `about ${hours} h ${rest} min left` : `about ${hours} h left`;
}

/**
 * Short progress text for a status or top bar: "Syncing 45% · 12/30 files", or, once the push
 * reports which kind of files it is on and how long it will take,
 * "Backing up notebooks — 120 of 2,000 files, about 11 min left".
 */
export function progressText(job: IJob): string {
  const restoring = job.kind === 'restore';
  if (job.state === 'queued') {
    return restoring ? 'Restore starting…' : 'Sync starting…';
  }
  if (restoring && job.filesTotal === 0) {
    return 'Reading your Drive backup…';
  }
  if (job.filesTotal === 0 && (job.phase === 'scanning' || job.phase === 'planning' || !job.phase)) {
    return job.phase === 'planning' ? 'Comparing with Drive…' : 'Looking for changes…';
  }
  if (!restoring && job.filesTotal > 0 && (job.currentKind || job.etaSeconds !== null)) {
    const what = job.currentKind ? `Backing up ${job.currentKind}` : 'Backing up';
    const files = `${formatCount(job.filesDone)} of ${countText(job.filesTotal, 'file', formatCount)}`;
    const eta = job.etaSeconds !== null ? `, ${etaText(job.etaSeconds)}` : '';
    return `${what} — ${files}${eta}`;
  }
  const pct = percent(job);
  const files = `${job.filesDone}/${job.filesTotal} files`;
  const verb = restoring ? 'Restoring' : 'Syncing';
  return pct === null ? `${verb} · ${files}` : `${verb} ${pct}% · ${files}`;
}

/** A longer line for tooltips and the details dialog. */
export function progressDetail(job: IJob): string {
  const parts = [progressText(job)];
  if (job.bytesTotal > 0) {
    parts.push(`${formatBytes(job.bytesDone)} of ${formatBytes(job.bytesTotal)}`);
  }
  if (job.bytesPerSecond) {
    parts.push(`${formatBytes(job.bytesPerSecond)}/s`);
  }
  if (job.currentPath) {
    parts.push(`now: ${job.currentPath}`);
  }
  return parts.join(' · ');
}

/** "3 files" with the right plural. */
export function countText(n: number, noun: string, show: (n: number) => string = String): string {
  return `${show(n)} ${noun}${n === 1 ? '' : 's'}`;
}

/** Paths counted the way they are: "1 folder", "3 files", "1 folder and 2 files". */
export function countItems(entries: IFileProblem[]): string {
  const folders = entries.filter(e => e.isFolder).length;
  const files = entries.length - folders;
  const parts: string[] = [];
  if (folders) {
    parts.push(countText(folders, 'folder'));
  }
  if (files || !folders) {
    parts.push(countText(files, 'file'));
  }
  return parts.join(' and ');
}

/** A push summary's left-out paths, sorted the way the student reads them. */
export interface ISortedProblems {
  /** Not on Drive and they should be: failures first, then skipped problems. */
  problems: IFileProblem[];
  /** Worth knowing, nothing lost (an account switch, a copy moved on Drive). */
  notices: IFileProblem[];
  /** Kept off Drive by a rule: secrets, the tool's own state, links, sockets. */
  onPurpose: IFileProblem[];
}

export function sortProblems(summary: IPushSummary | null | undefined): ISortedProblems {
  const skipped = summary?.skipped ?? [];
  return {
    problems: [...(summary?.failed ?? []), ...skipped.filter(s => s.category === 'problem')],
    notices: skipped.filter(s => s.category === 'notice'),
    onPurpose: skipped.filter(s => s.category === 'on_purpose')
  };
}

/**
 * The words and the colour for a finished push. A failure is never called "skipped", and
 * "everything was already up to date" only when nothing failed; what was left out on purpose
 * keeps the backup green.
 */
export function pushSummaryText(
  summary: IPushSummary | null,
  fallback: { filesDone: number; bytesDone: number } = { filesDone: 0, bytesDone: 0 }
): { level: 'success' | 'warning'; text: string; problems: number } {
  const changed = summary ? summary.created + summary.updated : fallback.filesDone;
  const uploaded = summary ? summary.bytesUploaded : fallback.bytesDone;
  const sorted = sortProblems(summary);
  const copied = changed
    ? `${countText(changed, 'file')} copied (${formatBytes(uploaded)})`
    : '';
  if (!sorted.problems.length) {
    return {
      level: 'success',
      text: copied
        ? `Backup finished: ${copied}.`
        : 'Backup finished: everything was already up to date.',
      problems: 0
    };
  }
  const head = copied ? `Backup finished with problems: ${copied}, but ` : 'Backup finished with problems: ';
  // Short enough for a toast (JupyterLab cuts them at 140 characters); the details dialog splits
  // failures from the rest.
  const text = `${head}${countItems(sorted.problems)} could not be backed up.`;
  return { level: 'warning', text, problems: sorted.problems.length };
}

/** The overwrite choices of a restore, in the words the dialog shows. */
export const OVERWRITE_CHOICES: { value: OverwritePolicy; label: string; help: string }[] = [
  {
    value: 'never',
    label: 'Keep my files (never replace)',
    help: 'Only files missing from your home folder come back. A file you already have is never touched.'
  },
  {
    value: 'older',
    label: "Replace only files older than Drive's copy",
    help: "Your file is replaced when Drive's copy was saved more recently; newer work of yours stays."
  },
  {
    value: 'always',
    label: "Replace everything with Drive's copy",
    help: "Every file that differs from Drive's copy is replaced by it. Changes since the backup are lost."
  }
];

/** One line about a finished restore: "Restore finished: 12 files restored, 2 of yours kept." */
export function restoreSummaryText(summary: IRestoreSummary): string {
  const parts: string[] = [];
  if (summary.restored) {
    parts.push(`${countText(summary.restored, 'file')} restored`);
  }
  if (summary.replaced) {
    parts.push(`${countText(summary.replaced, 'file')} replaced by Drive's copy`);
  }
  if (summary.skippedExisting) {
    parts.push(`${summary.skippedExisting} of yours kept`);
  }
  if (summary.unchanged) {
    parts.push(`${summary.unchanged} already up to date`);
  }
  if (summary.renamed.length) {
    parts.push(`${summary.renamed.length} renamed`);
  }
  const problems = summary.skipped.length + summary.failed.length;
  if (problems) {
    parts.push(`${countText(problems, 'file')} not restored`);
  }
  if (!parts.length) {
    return 'Restore finished: there was nothing to bring back.';
  }
  return `Restore finished: ${parts.join(', ')}.`;
}

/** A short date for listings: "12 Mar 2026, 14:05". */
export function formatDate(when: number | null): string {
  if (when === null) {
    return '';
  }
  return new Date(when).toLocaleString(undefined, {
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit'
  });
}

/** What the always-visible indicator shows (`widget.ts` draws it; its CSS keys on `state`). */
export interface IIndicatorView {
  state: 'hidden' | 'running' | 'disconnected' | 'reconnect' | 'error' | 'warning' | 'synced' | 'connected';
  text: string;
  /** The tooltip: the longer story behind `text`. */
  title: string;
  /** Percent done while running; null means unknown (an indeterminate bar). */
  percent: number | null;
  /** The backup folder's Drive page, when a link to it belongs in the indicator. */
  driveUrl: string | null;
  /** Paths the last push should have copied and did not (failed or a real problem), 0 to hide
   * the "N not backed up" button; what was left out on purpose is not counted. */
  problems: number;
  /** That button's words: "1 file not backed up". */
  problemsText: string;
}

/**
 * The indicator's state and words from the model: a running job wins, then "not connected",
 * then an error, then "Synced 3 min ago". `now` is a parameter so the wording is testable.
 */
export function indicatorView(
  status: IStatus | null,
  job: IJob | null,
  running: boolean,
  error: IRunError | null,
  now: number = Date.now()
): IIndicatorView {
  const view: IIndicatorView = {
    state: 'hidden',
    text: '',
    title: '',
    percent: null,
    driveUrl: null,
    problems: 0,
    problemsText: ''
  };
  if (!status || !status.configured) {
    return view;
  }
  if (running && job) {
    view.state = 'running';
    view.text = progressText(job);
    view.title = progressDetail(job);
    view.percent = percent(job);
  } else if (!status.connected) {
    view.state = 'disconnected';
    view.text = 'Back up to Google Drive';
    view.title = 'Your home folder is not backed up yet. Click to connect Google Drive.';
  } else if (error) {
    const words = describeError(error);
    const reconnect = error.kind === 'reconnect';
    view.state = reconnect ? 'reconnect' : 'error';
    view.text = reconnect ? 'Reconnect Google Drive' : `Backup stopped: ${words.title}`;
    view.title = words.text;
  } else if (status.lastPush?.finishedAt) {
    const account = status.account ? ` (${status.account})` : '';
    const { problems } = sortProblems(status.lastPush);
    view.state = problems.length ? 'warning' : 'synced';
    view.text = `Synced ${timeAgo(status.lastPush.finishedAt, now)}`;
    view.title = problems.length
      ? `Backed up to Google Drive${account}, but ${countItems(problems)} could not be. Click for details.`
      : `Backed up to Google Drive${account}. Click for details.`;
    view.driveUrl = status.rootFolderUrl || null;
    view.problems = problems.length;
    view.problemsText = problems.length ? `${countItems(problems)} not backed up` : '';
  } else {
    view.state = 'connected';
    view.text = 'Not synced yet';
    view.title = 'Connected to Google Drive. Press Sync now to back up your home folder.';
    view.driveUrl = status.rootFolderUrl || null;
  }
  return view;
}
