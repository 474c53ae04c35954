/**
 * Everything about what went wrong, in one place: the HTTP error of a request, the server's
 * error kinds mapped to what the UI can do about them, and the plain words shown to students.
 * No JupyterLab imports, so it stays a pure, unit-tested module.
 *
 * A student never reads an internal code (`needs_reauth`, `networkError`) or an exception name
 * (`ServerNotFoundError`): each kind has one sentence and what to do next, and any server
 * message shown with it goes through `plainWords` first.
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

/**
 * Every error kind the server can send → what the UI says. Sources: `server/jobs.py`
 * (`error_kind`: a job's `error.kind` and an API error's `error`), `server/handlers.py`
 * (`translate`, the OAuth callback page's `error`) and `auth/flow.py` (`OAuthError.kind`).
 * `tests/ui/test_error_kinds.py` checks that this list still holds every one of them.
 */
export const SERVER_ERROR_KINDS: Record<string, IRunError['kind']> = {
  needs_reauth: 'reconnect',
  not_connected: 'reconnect',
  drive_full: 'drive_full',
  upload_cap: 'daily_cap',
  drive_refused: 'drive_error',
  drive_error: 'drive_error',
  drive_unreachable: 'network',
  already_running: 'busy',
  nothing_to_restore: 'nothing',
  config: 'config',
  not_configured: 'config',
  environment: 'environment',
  access_denied: 'denied',
  bad_state: 'signin',
  exchange_failed: 'signin',
  expired: 'signin',
  sync_error: 'other',
  internal: 'internal'
};

/** Classify a run-level error from its kind, else from its message. */
export function classifyError(raw: any): IRunError | null {
  if (raw === null || raw === undefined || raw === false || raw === '') {
    return null;
  }
  if (typeof raw === 'string') {
    // A bare kind (`"needs_reauth"`) or words.
    if (SERVER_ERROR_KINDS[raw]) {
      return { kind: SERVER_ERROR_KINDS[raw], message: '' };
    }
    return { kind: kindFromWords(raw, ''), message: raw };
  }
  const message = String(raw.message ?? raw.detail ?? raw.reason ?? '');
  const nested = typeof raw.error === 'string' ? raw.error : '';
  const code = String(raw.kind ?? raw.code ?? nested ?? '');
  const known = SERVER_ERROR_KINDS[code] ?? SERVER_ERROR_KINDS[nested];
  if (known) {
    return { kind: known, message };
  }
  if (raw.error && typeof raw.error === 'object') {
    return classifyError(raw.error);
  }
  return { kind: kindFromWords(message, code), message };
}

function kindFromWords(message: string, code: string): IRunError['kind'] {
  const haystack = `${code} ${message}`.toLowerCase();
  if (/invalid_grant|revoked|reconnect|not connected/.test(haystack)) {
    return 'reconnect';
  }
  if (/storagequotaexceeded|storage quota|drive is full/.test(haystack)) {
    return 'drive_full';
  }
  if (/daily upload|uploadlimit/.test(haystack)) {
    return 'daily_cap';
  }
  return 'other';
}

/** A failed request, as a run-level error the UI can explain. */
export function errorOf(error: unknown): IRunError {
  if (error instanceof DriveSyncError) {
    const body = error.body && typeof error.body === 'object' ? error.body : {};
    // The body's kind first (`{"error": "needs_reauth", "message": ...}` or a job's
    // `{"error": {kind, message}}`), then the error's own words.
    const fromBody = classifyError(body);
    const fromMessage = classifyError(error.message);
    if (fromBody && fromBody.kind !== 'other') {
      return fromBody;
    }
    if (fromMessage && fromMessage.kind !== 'other') {
      return fromMessage;
    }
    if (error.status === 401 || error.status === 403) {
      // A 403 from our own server means the Jupyter session, not Drive; say so plainly.
      return { kind: 'session', message: '' };
    }
    const words = fromBody?.message || error.message;
    return { kind: 'other', message: words };
  }
  return { kind: 'server', message: '' };
}

// The kinds that are codes (`needs_reauth`); one-word kinds (`config`, `expired`) are English.
const KIND_WORDS = new RegExp(
  `\\b(?:${Object.keys(SERVER_ERROR_KINDS).filter(k => k.includes('_')).join('|')})\\b:?\\s*`,
  'g'
);

/**
 * A server message without internal codes: `networkError: Google Drive could not be reached
 * after 8 tries (ServerNotFoundError)` → `Google Drive could not be reached after 8 tries`.
 */
export function plainWords(message: string): string {
  const text = message
    .replace(/\s*\(\s*(?:\d{3}\s+)?[A-Za-z_.]*(?:Error|Exception|Warning)\s*\)/g, '')
    .replace(/\s*\(\s*(?:\d{3}\s+)?[a-z]+[A-Z][A-Za-z]*\s*\)/g, '')
    .replace(/\b(?:\d{3}\s+)?[a-z]+[A-Z][A-Za-z]*:\s*/g, '')
    .replace(/\b[A-Za-z_.]*(?:Error|Exception|Warning):\s*/g, '')
    .replace(/\b[A-Z][A-Za-z]*(?:Error|Exception)\b/g, '')
    .replace(KIND_WORDS, '')
    .replace(/^\d{3}\s+/, '')
    .replace(/\s+([.,;:])/g, '$1')
    .replace(/\s+/g, ' ')
    .trim();
  return text ? text[0].toUpperCase() + text.slice(1) : '';
}

/** `text` then the server's own words (cleaned), when they add anything. */
function withDetail(text: string, message: string): string {
  const detail = plainWords(message);
  if (!detail) {
    return text;
  }
  const sentence = /[.!?]$/.test(detail) ? detail : `${detail}.`;
  return `${text} Details: ${sentence}`;
}

const TRY_AGAIN = 'Press Sync now again in a few minutes; if it keeps happening, tell your course staff.';

/**
 * What went wrong and what to do about it, in plain words: `title` and `text` for dialogs,
 * `next` (what to do, short) for toasts, which JupyterLab cuts at 140 characters.
 */
export function describeError(error: IRunError): { title: string; text: string; next: string } {
  switch (error.kind) {
    case 'reconnect':
      return {
        title: 'Reconnect Google Drive',
        text:
          'Google Drive no longer accepts this connection (access was removed or expired). ' +
          'Connect again to keep backing up your files.',
        next: 'Connect again to keep backing up.'
      };
    case 'drive_full':
      return {
        title: 'Your Google Drive is full',
        text:
          'Google Drive has no space left, so the backup stopped. Free up space in your Drive ' +
          '(or its trash), then press Sync now again.',
        next: 'Free up space in your Drive, then press Sync now.'
      };
    case 'daily_cap':
      return {
        title: "Google Drive's daily upload limit reached",
        text:
          'Google Drive accepts only so much new data per day. The rest will be backed up ' +
          'on the next sync, tomorrow.',
        next: 'The rest is backed up tomorrow.'
      };
    case 'busy':
      return {
        title: 'A backup or restore is already running',
        text:
          'Another backup or restore of your home folder is running right now. ' +
          'Try again in a few minutes.',
        next: 'Try again in a few minutes.'
      };
    case 'nothing':
      return {
        title: 'Nothing to restore',
        text:
          'Your Google Drive holds no backup made by this app at that place. ' +
          'Only files this app backed up can be restored.',
        next: 'Only files this app backed up can be restored.'
      };
    case 'config':
      return {
        title: 'Backup is not set up correctly',
        text: withDetail('This is not something you can fix: tell your hub administrator.', error.message),
        next: 'Tell your hub administrator.'
      };
    case 'environment':
      return {
        title: 'Your home folder is in the way',
        text: withDetail(
          'The backup could not use your home folder (a permission or a full disk). ' +
            'Free some space or fix the permission, then press Sync now again; if you cannot, ' +
            'tell your hub administrator.',
          error.message
        ),
        next: 'Free some space or fix the permission, then press Sync now.'
      };
    case 'network':
      return {
        title: 'Google Drive could not be reached',
        text:
          'The server could not reach Google Drive, so nothing was backed up this time. ' +
          TRY_AGAIN,
        next: 'Press Sync now again in a few minutes.'
      };
    case 'drive_error':
      return {
        title: 'Google Drive refused the backup',
        text: 'Google Drive did not accept the backup this time. ' + TRY_AGAIN,
        next: 'Press Sync now again in a few minutes.'
      };
    case 'denied':
      return {
        title: 'Google Drive was not connected',
        text:
          'You did not allow access to Google Drive, so nothing is backed up. To back up your ' +
          'home folder, connect again and press Allow on the Google page.',
        next: 'You did not allow access. Connect again and press Allow.'
      };
    case 'signin':
      return {
        title: 'The Google sign-in did not finish',
        text: 'The sign-in expired or was interrupted. Connect Google Drive again to start a new one.',
        next: 'Connect Google Drive again to start a new sign-in.'
      };
    case 'session':
      return {
        title: 'Your Jupyter session expired',
        text: 'Reload this page (you may have to log in again), then try again.',
        next: 'Reload this page, then try again.'
      };
    case 'server':
      return {
        title: 'The Jupyter server could not be reached',
        text: 'Check your internet connection and that your server is still running, then reload the page.',
        next: 'Check your connection, then reload the page.'
      };
    case 'internal':
      return {
        title: 'The backup stopped on an unexpected problem',
        text: 'Nothing you did caused it. ' + TRY_AGAIN,
        next: 'Press Sync now again in a few minutes.'
      };
    default:
      return {
        title: 'The backup did not finish',
        text: withDetail(TRY_AGAIN, error.message),
        next: 'Press Sync now again in a few minutes.'
      };
  }
}

/** One short line for a toast: the title and what to do next (under JupyterLab's 140 characters). */
export function toastText(error: IRunError): string {
  const { title, next } = describeError(error);
  return `${title}. ${next}`;
}
