/**
 * The words and numbers students read: sizes, "synced N min ago", progress, restore summaries
 * and the indicator's state. A wrong plural or a NaN here is what a student sees.
 */
import {
  countText,
  formatBytes,
  formatDate,
  indicatorView,
  percent,
  progressDetail,
  progressText,
  restoreSummaryText,
  timeAgo
} from '../format';
import type { IJob, IPushSummary, IRestoreSummary, IStatus } from '../types';

const NOW = Date.UTC(2026, 2, 12, 14, 5, 0);
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

function job(fields: Partial<IJob> = {}): IJob {
  return {
    id: 'j1',
    kind: 'push',
    state: 'running',
    phase: 'uploading',
    filesDone: 0,
    filesTotal: 0,
    bytesDone: 0,
    bytesTotal: 0,
    currentPath: null,
    errors: [],
    summary: null,
    restoreSummary: null,
    error: null,
    ...fields
  };
}

function lastPush(fields: Partial<IPushSummary> = {}): IPushSummary {
  return {
    created: 0,
    updated: 0,
    unchanged: 0,
    skipped: [],
    failed: [],
    bytesUploaded: 0,
    finishedAt: null,
    ...fields
  };
}

function status(fields: Partial<IStatus> = {}): IStatus {
  return {
    configured: true,
    connected: true,
    account: 'alice@example.org',
    needsReauth: false,
    prompt: false,
    rootFolderUrl: 'https://drive.google.com/drive/folders/ROOT',
    folder: 'home/alice',
    lastPush: null,
    lastError: null,
    job: null,
    hasBackup: false,
    ...fields
  };
}

function restoreSummary(fields: Partial<IRestoreSummary> = {}): IRestoreSummary {
  return {
    restored: 0,
    replaced: 0,
    unchanged: 0,
    skippedExisting: 0,
    foldersCreated: 0,
    renamed: [],
    skipped: [],
    failed: [],
    bytesDownloaded: 0,
    ...fields
  };
}

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [999, '999 B'],
    [1000, '1.0 KB'],
    [1500, '1.5 KB'],
    [12_345, '12 KB'],
    [1_500_000, '1.5 MB'],
    [250_000_000, '250 MB'],
    [2_500_000_000, '2.5 GB'],
    [3e12, '3.0 TB']
  ])('%d bytes reads "%s"', (bytes, expected) => {
    expect(formatBytes(bytes)).toBe(expected);
  });

  it('never shows a negative size', () => {
    expect(formatBytes(-5)).toBe('0 B');
  });

  it('stays in TB past the largest unit', () => {
    expect(formatBytes(5e15)).toBe('5000 TB');
  });
});

describe('timeAgo', () => {
  it.each([
    [0, 'just now'],
    [44 * SECOND, 'just now'],
    [45 * SECOND, '1 min ago'],
    [3 * MINUTE, '3 min ago'],
    [59 * MINUTE, '59 min ago'],
    [60 * MINUTE, '1 h ago'],
    [2 * HOUR + 10 * MINUTE, '2 h ago'],
    [23 * HOUR, '23 h ago'],
    [30 * HOUR, 'yesterday'],
    [4 * DAY, '4 days ago']
  ])('%d ms before now reads "%s"', (age, expected) => {
    expect(timeAgo(NOW - age, NOW)).toBe(expected);
  });

  it('treats a time in the future (clock skew) as just now', () => {
    expect(timeAgo(NOW + 10 * MINUTE, NOW)).toBe('just now');
  });
});

describe('countText', () => {
  it('uses the plural except for exactly one', () => {
    expect(countText(0, 'file')).toBe('0 files');
    expect(countText(1, 'file')).toBe('1 file');
    expect(countText(2, 'skipped file')).toBe('2 skipped files');
  });
});

describe('percent', () => {
  it('goes by bytes when the total size is known', () => {
    expect(percent(job({ bytesDone: 450, bytesTotal: 1000, filesDone: 1, filesTotal: 10 }))).toBe(45);
  });

  it('goes by files when no size is known', () => {
    expect(percent(job({ filesDone: 3, filesTotal: 12 }))).toBe(25);
  });

  it('rounds down, so 100 % means really done', () => {
    expect(percent(job({ bytesDone: 999, bytesTotal: 1000 }))).toBe(99);
  });

  it('never goes past 100', () => {
    expect(percent(job({ bytesDone: 1200, bytesTotal: 1000 }))).toBe(100);
  });

  it('is unknown before anything is counted', () => {
    expect(percent(job())).toBeNull();
  });
});

describe('progressText', () => {
  it('says a queued push or restore is starting', () => {
    expect(progressText(job({ state: 'queued' }))).toBe('Sync starting…');
    expect(progressText(job({ state: 'queued', kind: 'restore' }))).toBe('Restore starting…');
  });

  it('names the phase before the file count is known', () => {
    expect(progressText(job({ phase: 'scanning' }))).toBe('Looking for changes…');
    expect(progressText(job({ phase: '' }))).toBe('Looking for changes…');
    expect(progressText(job({ phase: 'planning' }))).toBe('Comparing with Drive…');
    expect(progressText(job({ kind: 'restore', phase: 'planning' }))).toBe(
      'Reading your Drive backup…'
    );
  });

  it('shows percent and files while copying', () => {
    const running = job({ filesDone: 12, filesTotal: 30, bytesDone: 45, bytesTotal: 100 });
    expect(progressText(running)).toBe('Syncing 45% · 12/30 files');
    expect(progressText({ ...running, kind: 'restore' })).toBe('Restoring 45% · 12/30 files');
  });

  it('leaves the percent out when it is unknown', () => {
    expect(progressText(job({ phase: 'uploading', filesTotal: 0 }))).toBe('Syncing · 0/0 files');
  });
});

describe('progressDetail', () => {
  it('adds the sizes and the file being copied', () => {
    const running = job({
      filesDone: 1,
      filesTotal: 4,
      bytesDone: 1_500_000,
      bytesTotal: 6_000_000,
      currentPath: 'data/big.csv'
    });
    expect(progressDetail(running)).toBe(
      'Syncing 25% · 1/4 files · 1.5 MB of 6.0 MB · now: data/big.csv'
    );
  });

  it('is just the progress line when there is nothing more to say', () => {
    expect(progressDetail(job({ state: 'queued' }))).toBe('Sync starting…');
  });
});

describe('restoreSummaryText', () => {
  it('lists only what happened, with plurals', () => {
    const summary = restoreSummary({
      restored: 12,
      replaced: 1,
      skippedExisting: 2,
      unchanged: 5,
      renamed: [{ path: 'a:b.txt', reason: 'name not allowed here' }],
      failed: [{ path: 'x', reason: 'disk full' }]
    });
    expect(restoreSummaryText(summary)).toBe(
      "Restore finished: 12 files restored, 1 file replaced by Drive's copy, 2 of yours kept, " +
        '5 already up to date, 1 renamed, 1 file not restored.'
    );
  });

  it('says so when there was nothing to bring back', () => {
    expect(restoreSummaryText(restoreSummary())).toBe(
      'Restore finished: there was nothing to bring back.'
    );
  });
});

describe('formatDate', () => {
  it('is empty when Drive gave no date', () => {
    expect(formatDate(null)).toBe('');
  });

  it('shows the year of a known date', () => {
    expect(formatDate(NOW)).toContain('2026');
  });
});

describe('indicatorView', () => {
  it('says "Synced N min ago" after a push, with the Drive link', () => {
    const view = indicatorView(
      status({ lastPush: lastPush({ finishedAt: NOW - 3 * MINUTE }) }),
      null,
      false,
      null,
      NOW
    );
    expect(view).toEqual({
      state: 'synced',
      text: 'Synced 3 min ago',
      title: 'Backed up to Google Drive (alice@example.org). Click for details.',
      percent: null,
      driveUrl: 'https://drive.google.com/drive/folders/ROOT',
      skipped: 0
    });
  });

  it('counts skipped and failed files of the last push', () => {
    const last = lastPush({
      finishedAt: NOW - 2 * HOUR,
      skipped: [{ path: 'huge.bin', reason: 'too large' }],
      failed: [{ path: 'locked', reason: 'permission denied' }]
    });
    const view = indicatorView(status({ lastPush: last }), null, false, null, NOW);
    expect(view.text).toBe('Synced 2 h ago');
    expect(view.skipped).toBe(2);
  });

  it('is hidden until the status is known, and when the hub did not configure it', () => {
    expect(indicatorView(null, null, false, null, NOW).state).toBe('hidden');
    expect(indicatorView(status({ configured: false }), null, false, null, NOW).state).toBe(
      'hidden'
    );
  });

  it('shows a running job first, even when an error is pending', () => {
    const running = job({ filesDone: 2, filesTotal: 4, bytesDone: 10, bytesTotal: 40 });
    const view = indicatorView(status(), running, true, { kind: 'other', message: 'x' }, NOW);
    expect(view.state).toBe('running');
    expect(view.text).toBe('Syncing 25% · 2/4 files');
    expect(view.percent).toBe(25);
    expect(view.driveUrl).toBeNull();
  });

  it('invites to connect when not connected', () => {
    const view = indicatorView(status({ connected: false }), null, false, null, NOW);
    expect(view.state).toBe('disconnected');
    expect(view.text).toBe('Back up to Google Drive');
  });

  it('asks to reconnect, or names the error', () => {
    const reconnect = indicatorView(
      status(),
      null,
      false,
      { kind: 'reconnect', message: 'needs_reauth' },
      NOW
    );
    expect([reconnect.state, reconnect.text]).toEqual(['reconnect', 'Reconnect Google Drive']);
    const full = indicatorView(status(), null, false, { kind: 'drive_full', message: '' }, NOW);
    expect([full.state, full.text]).toEqual(['error', 'Backup stopped: Your Google Drive is full']);
  });

  it('says "Not synced yet" when connected without any push', () => {
    const view = indicatorView(status({ rootFolderUrl: null }), null, false, null, NOW);
    expect(view.state).toBe('connected');
    expect(view.text).toBe('Not synced yet');
    expect(view.driveUrl).toBeNull();
  });
});
