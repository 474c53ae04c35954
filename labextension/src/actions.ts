/**
 * What the student can ask for (sync, connect, restore, details), as flows that chain the
 * model and the dialogs. Commands, the status item, notifications and the start-up prompt all
 * call these, so a "Sync now" behaves the same wherever it was clicked.
 */
import { Notification } from '@jupyterlab/apputils';

import { api } from './api';
import { openConsent } from './connect';
import { errorOf } from './errors';
import {
  confirmDisconnect,
  confirmSwitch,
  folderName,
  showDetails,
  showError,
  showLeftOut,
  showRestoreOffer
} from './dialogs';
import type { SyncModel } from './model';
import { isChoice, showRestoreDialog } from './restore';
import type { IRunError } from './types';

export class SyncActions {
  /**
   * @param hubUser - the JupyterHub user name, for the default Drive folder name shown before
   *   the server has said which folder it uses.
   */
  constructor(
    readonly model: SyncModel,
    readonly hubUser: string | undefined
  ) {}

  /** Jobs started from this page: only their ends are announced here (not other tabs'). */
  readonly startedHere = new Set<string>();

  /** Start a push; say plainly why when it cannot start. */
  async sync(): Promise<void> {
    const job = await this.model.syncNow();
    if (job) {
      this.startedHere.add(job.id);
      return;
    }
    await this._explain(this.model.error);
  }

  /**
   * Open the consent popup, then sync. Call it synchronously from a click: browsers allow the
   * popup only during the user's gesture.
   */
  connect(): Promise<void> {
    return this.connectThenSync(openConsent(this.model, { retry: () => void this.connect() }));
  }

  /**
   * Switch Google account: disconnect, then the sign-in popup for the next account, then a
   * sync to it. Call it synchronously from a click (the popup opens at once, blank, and goes to
   * Google's page once the old account is disconnected).
   */
  switchAccount(): Promise<void> {
    return this.connectThenSync(
      openConsent(this.model, {
        before: async () => {
          await api.disconnect();
          await this.model.refresh();
        },
        retry: () => void this.connect()
      })
    );
  }

  /** Ask, then switch (the dialog's button click is the gesture the popup needs). */
  async confirmAndSwitch(): Promise<void> {
    if (await confirmSwitch(this.model.status)) {
      await this.switchAccount();
    }
  }

  /** Ask, then disconnect: backups stop, the files on Drive stay. */
  async disconnect(confirm = true): Promise<void> {
    if (confirm && !(await confirmDisconnect(this.model.status))) {
      return;
    }
    try {
      await api.disconnect();
    } catch (error) {
      await showError(errorOf(error));
      return;
    }
    await this.model.refresh();
    Notification.info('Google Drive disconnected. Your files on Drive were kept.', { autoClose: 5000 });
  }

  /**
   * Connect (popup opened synchronously by the caller's click), then start the first sync.
   * When the Drive folder already holds a backup (a new hub or volume), ask first: the
   * student may want their files back before anything else.
   */
  async connectThenSync(connecting: Promise<boolean>): Promise<void> {
    const connected = await connecting;
    if (!connected) {
      return;
    }
    const status = this.model.status;
    const account = status?.account;
    if (status?.hasBackup) {
      const answer = await showRestoreOffer(status, this.hubUser);
      if (answer === 'restore') {
        await this.restore();
      } else if (answer === 'sync') {
        await this.sync();
      }
      return;
    }
    Notification.success(
      `Google Drive connected${account ? ` (${account})` : ''}. Backing up your home folder now.`,
      { autoClose: 5000 }
    );
    await this.sync();
  }

  /** The restore dialog, then the restore itself (followed like a push). */
  async restore(): Promise<void> {
    const answer = await showRestoreDialog(folderName(this.model.status, this.hubUser));
    if (!answer) {
      return;
    }
    if (!isChoice(answer)) {
      await this._explainRestore(answer);
      return;
    }
    const job = await this.model.restore(answer.path, answer.overwrite);
    if (job) {
      this.startedHere.add(job.id);
      return;
    }
    await this._explainRestore(this.model.restoreError);
  }

  /** The details dialog, then whatever the student picked in it. */
  async openDetails(): Promise<void> {
    const action = await showDetails(this.model, this.hubUser);
    if (action === 'connect') {
      await this.connect();
    } else if (action === 'restore') {
      await this.restore();
    } else if (action === 'sync') {
      await this.sync();
    } else if (action === 'skipped') {
      await this.showSkipped();
    } else if (action === 'switch') {
      await this.confirmAndSwitch();
    } else if (action === 'disconnect') {
      await this.disconnect();
    }
  }

  /** What the last push left out: problems, notes, and what was kept off Drive on purpose. */
  async showSkipped(): Promise<void> {
    await showLeftOut(this.model.status?.lastPush ?? null);
  }

  /** Why a sync did not start; a "Reconnect" click there is the gesture the popup needs. */
  private async _explain(error: IRunError | null): Promise<void> {
    if (!error) {
      return;
    }
    if (await showError(error)) {
      await this.connect();
    }
  }

  /** Why a restore did not start; after a reconnect, straight back to the restore dialog. */
  private async _explainRestore(error: IRunError | null): Promise<void> {
    if (error && (await showError(error))) {
      if (await openConsent(this.model)) {
        await this.restore();
      }
    }
  }
}
