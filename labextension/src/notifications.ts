/**
 * The toast at the end of a push or restore started from this page: what was copied, what was
 * skipped, and the one button that helps next (Open in Drive, Show skipped, Reconnect...).
 */
import { Notification } from '@jupyterlab/apputils';
import type { CommandRegistry } from '@lumino/commands';

import type { SyncActions } from './actions';
import { showError } from './dialogs';
import { toastText } from './errors';
import { pushSummaryText, restoreSummaryText } from './format';
import { showRestoreSummary } from './restore';
import type { IJob } from './types';

/** JupyterLab's (and Notebook 7's) command that reloads the file browser's listing. */
const FILEBROWSER_REFRESH = 'filebrowser:refresh';

/** Announce every job end this page started; refresh the file browser after any restore. */
export function notifyJobEnds(commands: CommandRegistry, actions: SyncActions): void {
  actions.model.jobFinished.connect((_, job) => {
    if (job.kind === 'restore') {
      // Files appeared (or may have, when it failed midway): show them wherever it ran.
      void refreshFileBrowser(commands);
    }
    if (actions.startedHere.delete(job.id)) {
      if (job.kind === 'restore') {
        notifyRestored(job);
      } else {
        notifyPushed(job, actions);
      }
    }
  });
}

async function refreshFileBrowser(commands: CommandRegistry): Promise<void> {
  if (commands.hasCommand(FILEBROWSER_REFRESH)) {
    try {
      await commands.execute(FILEBROWSER_REFRESH);
    } catch (error) {
      console.warn('drive-sync: could not refresh the file browser', error);
    }
  }
}

function notifyRestored(job: IJob): void {
  const summary = job.restoreSummary;
  if (job.state === 'failed' || !summary) {
    const error = job.error ?? { kind: 'other' as const, message: '' };
    Notification.error(`Restore stopped: ${toastText(error)}`, {
      autoClose: false,
      actions: [{ label: 'Details', callback: () => void showError(error) }]
    });
    return;
  }
  const problems = summary.skipped.length + summary.failed.length;
  const noteworthy = problems + summary.renamed.length;
  (problems ? Notification.warning : Notification.success)(restoreSummaryText(summary), {
    autoClose: noteworthy ? false : 8000,
    actions: [{ label: 'Details', callback: () => void showRestoreSummary(summary) }]
  });
}

function notifyPushed(job: IJob, actions: SyncActions): void {
  const { model } = actions;
  if (job.state === 'failed' && job.error) {
    const error = job.error;
    Notification.error(toastText(error), {
      autoClose: false,
      actions:
        error.kind === 'reconnect'
          ? [{ label: 'Reconnect', callback: () => void actions.connect() }]
          : [{ label: 'Details', callback: () => void showError(error) }]
    });
    return;
  }
  const summary = job.summary ?? model.status?.lastPush ?? null;
  const words = pushSummaryText(summary, job);
  const url = model.status?.rootFolderUrl;
  const buttons: Notification.IAction[] = [];
  if (url) {
    buttons.push({ label: 'Open in Drive', callback: () => window.open(url, '_blank', 'noopener') });
  }
  if (words.problems) {
    buttons.push({ label: 'Show what was not backed up', callback: () => void actions.showSkipped() });
  }
  (words.level === 'warning' ? Notification.warning : Notification.success)(words.text, {
    autoClose: words.level === 'warning' ? false : 6000,
    actions: buttons
  });
}
