/**
 * The one source of truth every widget renders: connection status plus the running (or last)
 * push job. It polls `status` slowly and `push/<id>` quickly while a job runs, so several tabs,
 * the nightly job and the classic notebook all show up here without any push from the server.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { api } from './api';
import { DriveSyncError, errorOf } from './errors';
import type { IJob, IRunError, IStatus, OverwritePolicy, PromptChoice } from './types';

/** How often to ask for the job's progress while one runs. */
const JOB_POLL_MS = 1000;
/** How often to refresh the status when idle (also keeps "N min ago" current). */
const STATUS_POLL_MS = 30000;

export class SyncModel {
  private _status: IStatus | null = null;
  private _job: IJob | null = null;
  private _error: IRunError | null = null;
  private _changed = new Signal<this, void>(this);
  private _jobFinished = new Signal<this, IJob>(this);
  private _tracking: string | null = null;
  private _statusTimer: number | null = null;
  private _disposed = false;

  /** Emitted whenever anything shown may have changed. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Emitted once when a tracked job ends (done or failed). */
  get jobFinished(): ISignal<this, IJob> {
    return this._jobFinished;
  }

  get status(): IStatus | null {
    return this._status;
  }

  /** The running job, or the last one this page followed. */
  get job(): IJob | null {
    return this._job;
  }

  get running(): boolean {
    return !!this._job && (this._job.state === 'running' || this._job.state === 'queued');
  }

  /** The error to show now: from the last job or a failed request; null when all is well. */
  get error(): IRunError | null {
    if (this._status?.needsReauth) {
      return { kind: 'reconnect', message: 'needs_reauth' };
    }
    if (this.running) {
      return null;
    }
    // A request that failed here, else how the last push (from anywhere) ended.
    return this._error ?? this._status?.lastError ?? null;
  }

  /** Fetch the status now; starts following a job someone else started. */
  async refresh(): Promise<IStatus | null> {
    let status: IStatus;
    try {
      status = await api.status();
    } catch (error) {
      console.warn('drive-sync: status request failed', error);
      return this._status;
    }
    this._status = status;
    if (status.connected && !status.needsReauth && this._error?.kind === 'reconnect') {
      this._error = null;
    }
    if (status.job && status.job.state !== 'done' && status.job.state !== 'failed') {
      this._job = status.job;
      void this._follow(status.job.id);
    }
    this._changed.emit();
    return status;
  }

  /** Start (or join) a push and follow it. Resolves with the job once it has started. */
  async syncNow(): Promise<IJob | null> {
    this._error = null;
    let job: IJob;
    try {
      job = await api.push();
    } catch (error) {
      this._error = errorOf(error);
      this._changed.emit();
      return null;
    }
    this._job = job;
    this._changed.emit();
    void this._follow(job.id);
    return job;
  }

  /**
   * Start a restore and follow it like a push (same progress, same lock). Resolves with the
   * job once started; on refusal with null, and `restoreError` says why.
   */
  async restore(path: string, overwrite: OverwritePolicy): Promise<IJob | null> {
    this.restoreError = null;
    let job: IJob;
    try {
      job = await api.restore(path, overwrite);
    } catch (error) {
      this.restoreError = errorOf(error);
      return null;
    }
    this._job = job;
    this._changed.emit();
    void this._follow(job.id);
    return job;
  }

  /** Why the last `restore()` did not start (kept apart from the backup's own error state). */
  restoreError: IRunError | null = null;

  async rememberPrompt(choice: PromptChoice): Promise<void> {
    try {
      await api.prompt(choice);
    } catch (error) {
      console.warn('drive-sync: could not save the prompt choice', error);
    }
    if (this._status) {
      this._status = { ...this._status, prompt: false };
      this._changed.emit();
    }
  }

  /** Begin the slow status poll. */
  start(): void {
    void this.refresh();
    this._statusTimer = window.setInterval(() => {
      if (!this.running && !document.hidden) {
        void this.refresh();
      } else {
        this._changed.emit();
      }
    }, STATUS_POLL_MS);
  }

  dispose(): void {
    this._disposed = true;
    if (this._statusTimer !== null) {
      window.clearInterval(this._statusTimer);
    }
    Signal.clearData(this);
  }

  private async _follow(id: string): Promise<void> {
    if (this._tracking === id) {
      return;
    }
    this._tracking = id;
    let failures = 0;
    while (!this._disposed && this._tracking === id) {
      await sleep(JOB_POLL_MS);
      let job: IJob;
      try {
        job = await api.job(id);
        failures = 0;
      } catch (error) {
        if (error instanceof DriveSyncError && error.status === 404) {
          break; // the server restarted and forgot it; the status tells the rest
        }
        if (++failures >= 10) {
          break;
        }
        continue;
      }
      this._job = job;
      if (job.state === 'done' || job.state === 'failed') {
        this._error = null; // the status's last_push now says how it ended
        this._tracking = null;
        await this.refresh();
        this._jobFinished.emit(job);
        return;
      }
      this._changed.emit();
    }
    if (this._tracking === id) {
      this._tracking = null;
    }
    await this.refresh();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => window.setTimeout(resolve, ms));
}
