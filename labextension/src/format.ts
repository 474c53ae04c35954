/**
 * Words and numbers shown to students. Pure functions, so every widget says the same thing.
 */
import type { IJob, IRestoreSummary, IRunError, OverwritePolicy } from './api';

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

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

/** Short progress text for a status or top bar: "Syncing 45% · 12/30 files". */
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
  if (job.currentPath) {
    parts.push(`now: ${job.currentPath}`);
  }
  return parts.join(' · ');
}

/** What went wrong and what to do about it, in plain words. */
export function describeError(error: IRunError): { title: string; text: string } {
  switch (error.kind) {
    case 'reconnect':
      return {
        title: 'Reconnect Google Drive',
        text:
          'Google Drive no longer accepts this connection (access was removed or expired). ' +
          'Connect again to keep backing up your files.'
      };
    case 'drive_full':
      return {
        title: 'Your Google Drive is full',
        text:
          'Google Drive has no space left, so the backup stopped. Free up space in your Drive ' +
          '(or its trash), then press Sync now again.'
      };
    case 'daily_cap':
      return {
        title: "Google Drive's daily upload limit reached",
        text:
          'Google Drive accepts only so much new data per day. The rest will be backed up ' +
          'on the next sync, tomorrow.'
      };
    case 'busy':
      return {
        title: 'A backup or restore is already running',
        text:
          'Another backup or restore of your home folder is running right now. ' +
          'Try again in a few minutes.'
      };
    case 'nothing':
      return {
        title: 'Nothing to restore',
        text:
          'Your Google Drive holds no backup made by this app at that place. ' +
          'Only files this app backed up can be restored.'
      };
    case 'config':
      return {
        title: 'Backup is not set up correctly',
        text: `Ask your hub administrator: ${error.message}`
      };
    default:
      return {
        title: 'The backup did not finish',
        text: error.message
          ? `Something went wrong: ${error.message}`
          : 'Something went wrong. Try again later.'
      };
  }
}

/** "3 files skipped" with the right plural. */
export function countText(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
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
