/**
 * Everything about what went wrong, in one place: the HTTP error of a request, the server's
 * error kinds mapped to what the UI can do about them, and the plain words shown to students.
 * No JupyterLab imports, so it stays a pure, unit-tested module.
 */
import type { IRunError } from './types';

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

/** A failed request, as a run-level error the UI can explain. */
export function errorOf(error: unknown): IRunError {
  if (error instanceof DriveSyncError) {
    const body = error.body ?? {};
    const classified = classifyError(body.error ?? body) ?? classifyError(error.message);
    if (classified && classified.kind !== 'other') {
      return classified;
    }
    if (error.status === 401 || error.status === 403) {
      // A 403 from our own server means the Jupyter session, not Drive; say so plainly.
      return { kind: 'other', message: 'Your Jupyter session expired; reload the page.' };
    }
    return classified ?? { kind: 'other', message: error.message };
  }
  return { kind: 'other', message: 'Could not reach the Jupyter server.' };
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
