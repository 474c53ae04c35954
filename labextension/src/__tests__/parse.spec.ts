/**
 * The server's JSON → the UI's shapes. The fixtures use the keys the server extension sends
 * (`Job.to_dict`, the status handler, `push --json` summaries); malformed input must give safe
 * defaults, never `undefined` or NaN in a widget.
 */
import {
  errorMessage,
  parseBody,
  parseJob,
  parseRemoteEntry,
  parseRemoteListing,
  parseRestoreSummary,
  parseStartedJob,
  parseStatus,
  parseSummary,
  parseTime
} from '../parse';
import { statusWith } from './fixtures';

/** A running push as `GET drive-sync/push/<id>` returns it. */
const RUNNING_PUSH = {
  id: 'a1b2',
  kind: 'push',
  state: 'running',
  source: 'server',
  phase: 'uploading',
  files_done: 12,
  files_total: 30,
  bytes_done: 4500,
  bytes_total: 10000,
  current_path: 'notebooks/week3.ipynb',
  rate: 1200.5,
  errors: [{ path: 'locked.txt', reason: 'permission denied' }],
  summary: null,
  error: null,
  started_at: 1773323100.5,
  finished_at: null
};

/** A finished push's summary as `push --json` writes it. */
const PUSH_SUMMARY = {
  created: 3,
  updated: 2,
  unchanged: 40,
  skipped: [{ path: 'big.iso', reason: 'larger than the size limit' }],
  failed: [],
  bytes_uploaded: 123456
};

describe('parseTime', () => {
  it('accepts epoch seconds (the server) and epoch milliseconds', () => {
    expect(parseTime(1773323100)).toBe(1773323100000);
    expect(parseTime(1773323100000)).toBe(1773323100000);
  });

  it('accepts ISO strings', () => {
    expect(parseTime('2026-03-12T14:05:00Z')).toBe(Date.UTC(2026, 2, 12, 14, 5, 0));
  });

  it.each([[null], [undefined], [''], ['yesterday-ish'], [NaN], [Infinity], [{}], [[1]]])(
    'gives null for %p',
    value => {
      expect(parseTime(value)).toBeNull();
    }
  );
});

describe('parseSummary', () => {
  it('reads the nested summary and the finish time of a last_push record', () => {
    const parsed = parseSummary({ finished_at: 1773323100, ok: true, summary: PUSH_SUMMARY });
    expect(parsed).toEqual({
      created: 3,
      updated: 2,
      unchanged: 40,
      skipped: [{ path: 'big.iso', reason: 'larger than the size limit', category: 'problem', isFolder: false }],
      failed: [],
      bytesUploaded: 123456,
      finishedAt: 1773323100000
    });
  });

  it('reads a flat summary too', () => {
    expect(parseSummary({ ...PUSH_SUMMARY, finished_at: '2026-03-12T14:05:00Z' })).toMatchObject({
      created: 3,
      bytesUploaded: 123456,
      finishedAt: Date.UTC(2026, 2, 12, 14, 5, 0)
    });
  });

  it('turns wrong types into zeros and empty lists', () => {
    expect(
      parseSummary({ created: '3', updated: null, skipped: 'lots', failed: {}, bytes_uploaded: NaN })
    ).toEqual({
      created: 0,
      updated: 0,
      unchanged: 0,
      skipped: [],
      failed: [],
      bytesUploaded: 0,
      finishedAt: null
    });
  });

  it('words a problem from whichever key carries it', () => {
    const parsed = parseSummary({
      skipped: [{ path: 'a', error: 'too big' }, { path: 'b', message: 'gone' }, null, 'x']
    });
    expect(parsed?.skipped).toEqual([
      { path: 'a', reason: 'too big', category: 'problem', isFolder: false },
      { path: 'b', reason: 'gone', category: 'problem', isFolder: false },
      { path: '', reason: '', category: 'problem', isFolder: false },
      { path: '', reason: '', category: 'problem', isFolder: false }
    ]);
  });

  it("reads each entry's category and whether it is a folder (engine/status.py)", () => {
    const parsed = parseSummary({
      skipped: [
        { path: '.ssh', reason: 'a secret (keys, tokens, passwords): never uploaded', category: 'on_purpose', is_folder: true },
        { path: '.', reason: 'another Google account is connected', category: 'notice', is_folder: false },
        { path: 'bad', reason: 'name is not valid UTF-8', category: 'problem' },
        { path: 'odd', reason: 'from a newer server', category: 'something-new' }
      ],
      failed: [{ path: 'f', reason: 'upload failed', category: 'on_purpose' }]
    });
    expect(parsed?.skipped.map(s => [s.category, s.isFolder])).toEqual([
      ['on_purpose', true],
      ['notice', false],
      ['problem', false],
      ['problem', false]
    ]);
    // A failure is a problem whatever its entry says.
    expect(parsed?.failed[0].category).toBe('problem');
  });

  it.each([[null], [undefined], ['done'], [42]])('is null for %p', value => {
    expect(parseSummary(value)).toBeNull();
  });
});

describe('parseRestoreSummary', () => {
  it('maps the `restore --json` keys', () => {
    const parsed = parseRestoreSummary({
      restored: 12,
      replaced: 1,
      unchanged: 4,
      skipped_existing: 2,
      folders_created: 3,
      renamed: [{ path: 'a_b.txt', reason: 'a:b.txt is not a valid name here' }],
      skipped: [],
      failed: [{ path: 'x', error: 'disk full' }],
      bytes_downloaded: 9000
    });
    expect(parsed).toEqual({
      restored: 12,
      replaced: 1,
      unchanged: 4,
      skippedExisting: 2,
      foldersCreated: 3,
      renamed: [{ path: 'a_b.txt', reason: 'a:b.txt is not a valid name here', category: 'problem', isFolder: false }],
      skipped: [],
      failed: [{ path: 'x', reason: 'disk full', category: 'problem', isFolder: false }],
      bytesDownloaded: 9000
    });
  });

  it('is null when there is no summary object', () => {
    expect(parseRestoreSummary(null)).toBeNull();
    expect(parseRestoreSummary('ok')).toBeNull();
  });
});

describe('parseJob', () => {
  it('reads a running push as the server sends it', () => {
    expect(parseJob(RUNNING_PUSH)).toEqual({
      id: 'a1b2',
      kind: 'push',
      state: 'running',
      phase: 'uploading',
      filesDone: 12,
      filesTotal: 30,
      bytesDone: 4500,
      bytesTotal: 10000,
      currentPath: 'notebooks/week3.ipynb',
      etaSeconds: null,
      filesPerSecond: null,
      bytesPerSecond: null,
      currentKind: null,
      errors: [{ path: 'locked.txt', reason: 'permission denied', category: 'problem', isFolder: false }],
      summary: null,
      restoreSummary: null,
      error: null
    });
  });

  it('accepts a `{job: ...}` wrapper and a nested progress object', () => {
    const parsed = parseJob({
      job: { job_id: 'z9', status: 'running', progress: { phase: 'scanning', files_done: 5 } }
    });
    expect(parsed).toMatchObject({ id: 'z9', state: 'running', phase: 'scanning', filesDone: 5 });
  });

  it('keeps a finished push summary and a restore summary apart', () => {
    const push = parseJob({ ...RUNNING_PUSH, state: 'done', summary: PUSH_SUMMARY });
    expect(push?.summary?.created).toBe(3);
    expect(push?.restoreSummary).toBeNull();
    const restore = parseJob({ id: 'r1', kind: 'restore', state: 'done', summary: { restored: 7 } });
    expect(restore?.kind).toBe('restore');
    expect(restore?.summary).toBeNull();
    expect(restore?.restoreSummary?.restored).toBe(7);
  });

  it.each([
    ['queued', 'queued'],
    ['pending', 'queued'],
    ['starting', 'queued'],
    ['RUNNING', 'running'],
    ['finished', 'done'],
    ['succeeded', 'done'],
    ['error', 'failed'],
    ['cancelled', 'failed'],
    ['something-new', 'running']
  ])('reads state "%s" as %s', (raw, expected) => {
    expect(parseJob({ id: 'x', state: raw })?.state).toBe(expected);
  });

  it('treats a "done" job that carries an error as failed, with the error classified', () => {
    const parsed = parseJob({
      id: 'x',
      state: 'done',
      error: { kind: 'needs_reauth', message: 'invalid_grant: Token has been expired or revoked.' }
    });
    expect(parsed?.state).toBe('failed');
    expect(parsed?.error).toEqual({
      kind: 'reconnect',
      message: 'invalid_grant: Token has been expired or revoked.'
    });
  });

  it('fills safe defaults for a job with nothing in it', () => {
    expect(parseJob({})).toEqual({
      id: '',
      kind: 'push',
      state: 'running',
      phase: '',
      filesDone: 0,
      filesTotal: 0,
      bytesDone: 0,
      bytesTotal: 0,
      currentPath: null,
      etaSeconds: null,
      filesPerSecond: null,
      bytesPerSecond: null,
      currentKind: null,
      errors: [],
      summary: null,
      restoreSummary: null,
      error: null
    });
  });

  it('reads the ETA, the rates and the kind of files the push reports', () => {
    const parsed = parseJob({
      ...RUNNING_PUSH,
      eta_seconds: 660,
      files_per_second: 2.5,
      bytes_per_second: 1500000,
      current_kind: 'notebooks'
    });
    expect(parsed).toMatchObject({
      etaSeconds: 660,
      filesPerSecond: 2.5,
      bytesPerSecond: 1500000,
      currentKind: 'notebooks'
    });
  });

  it.each([[null], [-1], [NaN], ['soon']])('reads an ETA of %p as not known', value => {
    expect(parseJob({ ...RUNNING_PUSH, eta_seconds: value })?.etaSeconds).toBeNull();
  });

  it.each([[null], [undefined], [''], ['a1b2'], [7], [true]])('is null for %p', value => {
    expect(parseJob(value)).toBeNull();
  });
});

describe('parseStartedJob', () => {
  it('returns the job of a POST answer', () => {
    expect(parseStartedJob({ job: RUNNING_PUSH })?.id).toBe('a1b2');
  });

  it('is null for a refusal without a job, or a job without an id', () => {
    expect(parseStartedJob({ error: 'needs_reauth', message: 'Reconnect' })).toBeNull();
    expect(parseStartedJob({ job: { state: 'running' } })).toBeNull();
    expect(parseStartedJob(null)).toBeNull();
  });
});

describe('parseStatus', () => {
  it('reads the status a connected, synced user gets', () => {
    const parsed = parseStatus({
      configured: true,
      connected: true,
      account: 'alice@example.org',
      needs_reauth: false,
      prompt: false,
      root_folder_url: 'https://drive.google.com/drive/folders/ROOT',
      folder: 'home/alice',
      last_push: { finished_at: 1773323100, ok: true, summary: PUSH_SUMMARY, error: null },
      job: RUNNING_PUSH,
      has_backup: true
    });
    expect(parsed).toMatchObject({
      configured: true,
      connected: true,
      account: 'alice@example.org',
      needsReauth: false,
      prompt: false,
      rootFolderUrl: 'https://drive.google.com/drive/folders/ROOT',
      folder: 'home/alice',
      lastError: null,
      hasBackup: true
    });
    expect(parsed.lastPush?.finishedAt).toBe(1773323100000);
    expect(parsed.lastPush?.skipped).toHaveLength(1);
    expect(parsed.job?.id).toBe('a1b2');
  });

  it('reports how the last push ended early', () => {
    const parsed = parseStatus({
      connected: true,
      last_push: { finished_at: 1773323100, ok: false, error: { kind: 'drive_full', message: 'storageQuotaExceeded' } }
    });
    expect(parsed.lastError).toEqual({ kind: 'drive_full', message: 'storageQuotaExceeded' });
  });

  it('reports a sign-in that ended without connecting (consent denied)', () => {
    const parsed = parseStatus({
      connected: false,
      auth_error: { kind: 'access_denied', message: 'Access to Google Drive was not granted.', at: 1773323100 }
    });
    expect(parsed.authError?.kind).toBe('denied');
    expect(parsed.authErrorAt).toBe(1773323100000);
  });

  it('drops a job without an id', () => {
    expect(parseStatus({ job: { state: 'running' } }).job).toBeNull();
  });

  it('is configured unless the server says otherwise, and takes older folder keys', () => {
    expect(parseStatus({ root_folder_path: 'backups/alice' })).toMatchObject({
      configured: true,
      folder: 'backups/alice'
    });
    expect(parseStatus({ configured: false }).configured).toBe(false);
  });

  it.each([[null], [undefined], [{}]])('gives a disconnected status for %p', value => {
    expect(parseStatus(value)).toEqual(statusWith());
  });
});

describe('parseRemoteEntry and parseRemoteListing', () => {
  it('reads a file entry', () => {
    expect(
      parseRemoteEntry({
        name: 'week1.ipynb',
        drive_name: 'week1.ipynb',
        path: 'notebooks/week1.ipynb',
        is_folder: false,
        size: 2048,
        modified_time: '2026-03-12T14:05:00.000Z',
        restorable: true,
        note: null
      })
    ).toEqual({
      name: 'week1.ipynb',
      driveName: 'week1.ipynb',
      path: 'notebooks/week1.ipynb',
      isFolder: false,
      size: 2048,
      modified: Date.UTC(2026, 2, 12, 14, 5, 0),
      restorable: true,
      note: null
    });
  });

  it('keeps an unrestorable Google Docs file with its note, and no size', () => {
    expect(
      parseRemoteEntry({ drive_name: 'Notes', size: null, restorable: false, note: 'Google Docs file' })
    ).toMatchObject({
      name: 'Notes',
      driveName: 'Notes',
      path: '',
      size: null,
      modified: null,
      restorable: false,
      note: 'Google Docs file'
    });
  });

  it('gives no size for a size that is not a number', () => {
    expect(parseRemoteEntry({ name: 'a', size: 'big' }).size).toBeNull();
    expect(parseRemoteEntry({ name: 'a', size: '12' }).size).toBe(12);
  });

  it('lists a folder, falling back to the path asked for', () => {
    const listing = parseRemoteListing({ entries: [{ name: 'data', is_folder: true }] }, 'course');
    expect(listing.path).toBe('course');
    expect(listing.entries).toHaveLength(1);
    expect(listing.entries[0]).toMatchObject({ name: 'data', isFolder: true, path: 'data' });
  });

  it.each([[null], [{}], [{ entries: 'none' }], ['oops']])(
    'gives an empty listing for %p',
    value => {
      expect(parseRemoteListing(value, '')).toEqual({ path: '', entries: [] });
    }
  );
});

describe('parseBody and errorMessage', () => {
  it('parses JSON, keeps plain text as a message, and gives null for an empty body', () => {
    expect(parseBody('{"job": {"id": "a"}}')).toEqual({ job: { id: 'a' } });
    expect(parseBody('<html>502 Bad Gateway</html>')).toEqual({
      message: '<html>502 Bad Gateway</html>'
    });
    expect(parseBody('{"truncated": ')).toEqual({ message: '{"truncated": ' });
    expect(parseBody('')).toBeNull();
  });

  it("prefers the body's own words, else the status line", () => {
    expect(errorMessage({ message: 'Reconnect Google Drive' }, 409, 'Conflict')).toBe(
      'Reconnect Google Drive'
    );
    expect(errorMessage({ reason: 'Forbidden by XSRF' }, 403, 'Forbidden')).toBe('Forbidden by XSRF');
    expect(errorMessage({ error: 'needs_reauth' }, 409, 'Conflict')).toBe('needs_reauth');
    expect(errorMessage(null, 502, 'Bad Gateway')).toBe('502 Bad Gateway');
    expect(errorMessage({ message: '' }, 500, 'Internal Server Error')).toBe(
      '500 Internal Server Error'
    );
  });

  it('turns a structured message into text', () => {
    expect(errorMessage({ message: { code: 7 } }, 400, 'Bad Request')).toBe('{"code":7}');
  });
});
