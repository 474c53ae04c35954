/**
 * The words and numbers students read: sizes, "synced N min ago", progress, restore summaries
 * and the indicator's state. A wrong plural or a NaN here is what a student sees.
 */
import {
  countItems,
  countText,
  etaText,
  formatBytes,
  formatDate,
  indicatorView,
  percent,
  progressDetail,
  progressText,
  pushSummaryText,
  restoreSummaryText,
  sortProblems,
  timeAgo
} from '../format';
import type { IFileProblem, IJob, IPushSummary, IRestoreSummary, IStatus } from '../types';
import { statusWith } from './fixtures';

/** A left-out path as the server categorizes it (engine/status.py). */
function entry(
  path: string,
  reason: string,
  category: IFileProblem['category'] = 'problem',
  isFolder = false
): IFileProblem {
  return { path, reason, category, isFolder };
}

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
    etaSeconds: null,
    filesPerSecond: null,
    bytesPerSecond: null,
    currentKind: null,
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
  return statusWith({
    connected: true,
    account: 'alice@example.org',
    rootFolderUrl: 'https://drive.google.com/drive/folders/ROOT',
    folder: 'home/alice',
    ...fields
  });
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

  it('names the kind of files and the time left once the push reports them', () => {
    const running = job({ filesDone: 120, filesTotal: 2000, currentKind: 'notebooks', etaSeconds: 660 });
    expect(progressText(running)).toBe('Backing up notebooks — 120 of 2,000 files, about 11 min left');
    expect(progressText({ ...running, etaSeconds: null })).toBe('Backing up notebooks — 120 of 2,000 files');
    expect(progressText({ ...running, currentKind: null, etaSeconds: 30 })).toBe(
      'Backing up — 120 of 2,000 files, less than a minute left'
    );
    expect(progressText(job({ filesDone: 0, filesTotal: 1, currentKind: 'folders' }))).toBe(
      'Backing up folders — 0 of 1 file'
    );
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
      renamed: [entry('a:b.txt', 'name not allowed here', 'notice')],
      failed: [entry('x', 'disk full')]
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

describe('countItems', () => {
  it('counts folders as folders and files as files', () => {
    expect(countItems([entry('.ssh', 'secret', 'on_purpose', true)])).toBe('1 folder');
    expect(countItems([entry('a', 'x'), entry('b', 'x')])).toBe('2 files');
    expect(countItems([entry('.ssh', 's', 'on_purpose', true), entry('.aws', 's', 'on_purpose', true), entry('k', 's')])).toBe(
      '2 folders and 1 file'
    );
    expect(countItems([])).toBe('0 files');
  });
});

describe('sortProblems', () => {
  it('puts failures with the real problems, apart from notes and what was left out on purpose', () => {
    const sorted = sortProblems(
      lastPush({
        skipped: [
          entry('.ssh', 'secret', 'on_purpose', true),
          entry('bad\\xff', 'name is not valid UTF-8'),
          entry('.', 'another Google account is connected', 'notice')
        ],
        failed: [entry('x.csv', 'upload failed')]
      })
    );
    expect(sorted.problems.map(p => p.path)).toEqual(['x.csv', 'bad\\xff']);
    expect(sorted.notices.map(p => p.path)).toEqual(['.']);
    expect(sorted.onPurpose.map(p => p.path)).toEqual(['.ssh']);
  });
});

describe('pushSummaryText', () => {
  it('is green when only secrets were left out, on purpose', () => {
    const words = pushSummaryText(
      lastPush({ created: 40, bytesUploaded: 12000, skipped: [entry('.ssh', 'secret', 'on_purpose', true)] })
    );
    expect(words).toEqual({ level: 'success', text: 'Backup finished: 40 files copied (12 KB).', problems: 0 });
  });

  it('says "already up to date" only when nothing failed', () => {
    expect(pushSummaryText(lastPush({ unchanged: 8 })).text).toBe(
      'Backup finished: everything was already up to date.'
    );
    const failed = pushSummaryText(
      lastPush({ unchanged: 0, failed: Array.from({ length: 8 }, (_, i) => entry(`f${i}`, 'upload failed')) })
    );
    expect(failed.level).toBe('warning');
    expect(failed.text).toBe('Backup finished with problems: 8 files could not be backed up.');
    expect(failed.text).not.toMatch(/up to date|skipped/);
  });

  it('never calls a failure or a problem "skipped"', () => {
    const words = pushSummaryText(
      lastPush({
        created: 3,
        bytesUploaded: 3000,
        skipped: [entry('big.iso', 'larger than the size limit'), entry('data', 'folder not readable', 'problem', true)],
        failed: [entry('x', 'upload failed')]
      })
    );
    expect(words.text).toBe(
      'Backup finished with problems: 3 files copied (3.0 KB), but 1 folder and 2 files could not be backed up.'
    );
    expect(words.text.length).toBeLessThanOrEqual(140); // JupyterLab cuts longer toasts
    expect(words.problems).toBe(3);
    expect(words.text).not.toContain('skipped');
  });

  it("uses the job's counts when there is no summary", () => {
    expect(pushSummaryText(null, { filesDone: 2, bytesDone: 2000 }).text).toBe(
      'Backup finished: 2 files copied (2.0 KB).'
    );
  });
});

describe('etaText', () => {
  it.each([
    [10, 'less than a minute left'],
    [60, 'about 1 min left'],
    [660, 'about 11 min left'],
    [3600, 'about 1 h left'],
    [7500, 'about 2 h 5 min left']
  ])('words %p seconds as "%s"', (seconds, text) => {
    expect(etaText(seconds)).toBe(text);
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
      problems: 0,
      problemsText: ''
    });
  });

  it('counts the real problems of the last push, failed and skipped, and turns orange', () => {
    const last = lastPush({
      finishedAt: NOW - 2 * HOUR,
      skipped: [entry('huge.bin', 'too large'), entry('.ssh', 'a secret', 'on_purpose', true)],
      failed: [entry('locked', 'permission denied')]
    });
    const view = indicatorView(status({ lastPush: last }), null, false, null, NOW);
    expect(view.text).toBe('Synced 2 h ago');
    expect(view.state).toBe('warning');
    expect(view.problems).toBe(2);
    expect(view.problemsText).toBe('2 files not backed up');
  });

  it('stays green when everything left out was left out on purpose', () => {
    const last = lastPush({
      finishedAt: NOW - MINUTE,
      skipped: [
        entry('.ssh', 'a secret (keys, tokens, passwords): never uploaded', 'on_purpose', true),
        entry('.', 'another Google account is connected', 'notice')
      ]
    });
    const view = indicatorView(status({ lastPush: last }), null, false, null, NOW);
    expect(view.state).toBe('synced');
    expect(view.problems).toBe(0);
    expect(view.problemsText).toBe('');
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
