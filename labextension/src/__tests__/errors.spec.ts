/**
 * What went wrong → what the UI offers: the server's error kinds, Google's raw messages, HTTP
 * failures of our own server, and the words for each.
 */
import {
  classifyError,
  describeError,
  DriveSyncError,
  errorOf,
  plainWords,
  SERVER_ERROR_KINDS,
  toastText
} from '../errors';
import type { IRunError } from '../types';

describe('classifyError', () => {
  it.each([
    ['needs_reauth', 'reconnect'],
    ['not_connected', 'reconnect'],
    ['drive_full', 'drive_full'],
    ['upload_cap', 'daily_cap'],
    ['already_running', 'busy'],
    ['nothing_to_restore', 'nothing'],
    ['config', 'config'],
    ['not_configured', 'config']
  ])('maps the server kind %s to %s', (kind, expected) => {
    expect(classifyError({ kind, message: 'words' })).toEqual({ kind: expected, message: 'words' });
  });

  it('reads the kind from `error` or `code` too', () => {
    expect(classifyError({ error: 'needs_reauth' })?.kind).toBe('reconnect');
    expect(classifyError({ code: 'drive_full', detail: 'no space' })).toEqual({
      kind: 'drive_full',
      message: 'no space'
    });
  });

  it.each([
    ['invalid_grant: Token has been expired or revoked.', 'reconnect'],
    ['Google Drive is not connected', 'reconnect'],
    ['storageQuotaExceeded: The user has exceeded their Drive storage quota', 'drive_full'],
    ['Daily upload limit exceeded (uploadLimitExceeded)', 'daily_cap'],
    ['socket timed out', 'other']
  ])('classifies the message "%s" as %s', (message, expected) => {
    expect(classifyError(message)).toEqual({ kind: expected, message });
    expect(classifyError({ kind: 'from_a_newer_server', message })?.kind).toBe(expected);
  });

  it.each([[null], [undefined], [false], ['']])('is null for %p (no error)', value => {
    expect(classifyError(value)).toBeNull();
  });

  it('still classifies an error object without any words', () => {
    expect(classifyError({})).toEqual({ kind: 'other', message: '' });
  });
});

describe('errorOf', () => {
  it("classifies the body's words", () => {
    const error = new DriveSyncError('invalid_grant', 400, {
      message: 'invalid_grant: Token has been expired or revoked.'
    });
    expect(errorOf(error)).toEqual({
      kind: 'reconnect',
      message: 'invalid_grant: Token has been expired or revoked.'
    });
  });

  it('uses a kind the body gives as an object', () => {
    const error = new DriveSyncError('full', 502, { error: { kind: 'drive_full', message: 'full' } });
    expect(errorOf(error)).toEqual({ kind: 'drive_full', message: 'full' });
  });

  // The server's HTTP errors carry their kind as a string (`{"error": "needs_reauth"}`).
  it("maps the server's string kind (needs_reauth → reconnect)", () => {
    const error = new DriveSyncError('Reconnect Google Drive', 409, {
      error: 'needs_reauth',
      message: 'Reconnect Google Drive'
    });
    expect(errorOf(error).kind).toBe('reconnect');
  });

  // A body without words: the error's own message is looked at.
  it('falls back to the error message when the body says nothing', () => {
    const error = new DriveSyncError('storageQuotaExceeded', 500, null);
    expect(errorOf(error)).toEqual({ kind: 'drive_full', message: 'storageQuotaExceeded' });
  });

  it('blames the Jupyter session, not Drive, for a 403 from our own server', () => {
    const error = new DriveSyncError('Forbidden', 403, { message: 'Forbidden' });
    expect(errorOf(error)).toEqual({ kind: 'session', message: '' });
    expect(describeError(errorOf(error)).text).toContain('Reload this page');
  });

  it('keeps the words of any other refusal', () => {
    const error = new DriveSyncError('500 Internal Server Error', 500, { message: 'boom' });
    expect(errorOf(error)).toEqual({ kind: 'other', message: 'boom' });
  });

  it('says the server could not be reached for anything that is not an HTTP answer', () => {
    expect(errorOf(new TypeError('Failed to fetch'))).toEqual({ kind: 'server', message: '' });
    expect(describeError({ kind: 'server', message: '' }).title).toBe(
      'The Jupyter server could not be reached'
    );
  });
});

describe('describeError', () => {
  const kinds: IRunError['kind'][] = [
    'reconnect',
    'drive_full',
    'daily_cap',
    'busy',
    'config',
    'nothing',
    'environment',
    'network',
    'drive_error',
    'denied',
    'signin',
    'session',
    'server',
    'internal',
    'other'
  ];

  it.each(kinds)('has a title and a text for %s', kind => {
    const words = describeError({ kind, message: 'detail' });
    expect(words.title).not.toBe('');
    expect(words.text).not.toBe('');
  });

  it('tells what to do next', () => {
    expect(describeError({ kind: 'reconnect', message: '' }).title).toBe('Reconnect Google Drive');
    expect(describeError({ kind: 'drive_full', message: '' }).text).toContain('Free up space');
    expect(describeError({ kind: 'daily_cap', message: '' }).text).toContain('tomorrow');
  });

  it('passes a configuration problem on to the administrator', () => {
    expect(describeError({ kind: 'config', message: 'no client id' }).text).toBe(
      'This is not something you can fix: tell your hub administrator. Details: No client id.'
    );
  });

  it("shows an unknown error's message, or a generic line when it has none", () => {
    expect(describeError({ kind: 'other', message: 'disk I/O error' }).text).toBe(
      'Press Sync now again in a few minutes; if it keeps happening, tell your course staff. ' +
        'Details: Disk I/O error.'
    );
    expect(describeError({ kind: 'other', message: '' }).text).toBe(
      'Press Sync now again in a few minutes; if it keeps happening, tell your course staff.'
    );
  });
});

/** Internal words a student must never read: codes, exception names, the server's kinds. */
const INTERNAL = [
  /\b[a-z]+[A-Z][A-Za-z]*\b/, // camelCase codes: networkError, storageQuotaExceeded
  /\b[A-Z]\w*(?:Error|Exception)\b/, // exception names: ServerNotFoundError
  /\b[a-z]+_[a-z_]+\b/, // snake_case kinds: needs_reauth, drive_unreachable
  /\bundefined\b|\bnull\b|\[object/
];

function assertPlain(text: string): void {
  for (const pattern of INTERNAL) {
    expect(text).not.toMatch(pattern);
  }
}

describe('every error kind the server can send', () => {
  // What the server really puts in `message` next to each kind (jobs.py, handlers.py, the
  // Drive client's errors): codes and exception names included, as in issue 15.
  const RAW_MESSAGE =
    'networkError: Google Drive could not be reached after 8 tries (ServerNotFoundError)';

  it.each(Object.keys(SERVER_ERROR_KINDS))(
    '%s: one plain sentence and what to do next, as an API error and as a job error',
    kind => {
      const asApi = errorOf(new DriveSyncError(RAW_MESSAGE, 502, { error: kind, message: RAW_MESSAGE }));
      const asJob = classifyError({ kind, message: RAW_MESSAGE })!;
      const asCallback = classifyError(kind)!;
      for (const error of [asApi, asJob, asCallback]) {
        expect(error.kind).toBe(SERVER_ERROR_KINDS[kind]);
        const { title, text } = describeError(error);
        expect(title).not.toBe('');
        expect(text).toMatch(/[.!]$/);
        // what to do next: an imperative, or who acts on it
        expect(text).toMatch(
          /Connect|connect again|Free up|Press Sync now|Try again|tomorrow|Reload|tell your|Only files|Check/
        );
        assertPlain(`${title} ${text}`);
        // A toast keeps the title and what to do next whole (JupyterLab cuts at 140 characters).
        expect(toastText(error).length).toBeLessThanOrEqual(140);
        assertPlain(toastText(error));
        if (kind.includes('_')) {
          expect(`${title} ${text}`).not.toContain(kind); // a code; `expired` is also English
        }
      }
    }
  );

  it('names the kind of a 409 refusal and of an HTTP error without one', () => {
    for (const [status, body] of [
      [400, { message: 'bad restore request: overwrite must be one of never, older, always' }],
      [404, { message: 'no such job' }],
      [500, { message: 'Unhandled error' }],
      [409, { error: 'needs_reauth', message: 'Google Drive is not connected' }]
    ] as const) {
      const { title, text } = describeError(errorOf(new DriveSyncError(body.message, status, body)));
      assertPlain(`${title} ${text}`);
    }
  });
});

describe('plainWords', () => {
  it.each([
    [
      'networkError: Google Drive could not be reached after 8 tries (ServerNotFoundError)',
      'Google Drive could not be reached after 8 tries'
    ],
    ['IsADirectoryError: Is a directory', 'Is a directory'],
    ['403 storageQuotaExceeded: The user has exceeded their quota.', 'The user has exceeded their quota.'],
    ['needs_reauth', ''],
    ['This sign-in link has expired; start again.', 'This sign-in link has expired; start again.'],
    ['internal config environment', 'Internal config environment'],
    ['cannot read: permission denied', 'Cannot read: permission denied'],
    ['notes for myNotebook.ipynb are fine', 'Notes for myNotebook.ipynb are fine']
  ])('%p → %p', (raw, plain) => {
    expect(plainWords(raw)).toBe(plain);
  });
});
