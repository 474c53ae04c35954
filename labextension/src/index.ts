/**
 * jupyter-drive-sync frontend for JupyterLab 4 and Notebook 7.
 *
 * One plugin wires the pieces: the model (status + job polling), the commands (`drive-sync:*`,
 * used by toolbars, the File menu and the palette), the first-login prompt, and the status item
 * (status bar in JupyterLab, top bar in Notebook 7). Toolbar buttons and the menu entry are
 * declared in `schema/plugin.json`, so users can move or hide them in the Settings Editor.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  IToolbarWidgetRegistry,
  Notification
} from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { CommandToolbarButton } from '@jupyterlab/ui-components';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { Widget } from '@lumino/widgets';

import { api, IJob, IRunError } from './api';
import { openConsent } from './connect';
import {
  folderName,
  showDetails,
  showError,
  showProblems,
  showPrompt,
  showRestoreOffer
} from './dialogs';
import { countText, describeError, formatBytes, percent, restoreSummaryText } from './format';
import { cloudIcon } from './icons';
import { SyncModel } from './model';
import { isChoice, showRestoreDialog, showRestoreSummary } from './restore';
import { DriveSyncStatus } from './widget';

export const PLUGIN_ID = 'jupyter-drive-sync:plugin';

export namespace CommandIDs {
  export const syncNow = 'drive-sync:sync-now';
  export const connect = 'drive-sync:connect';
  export const details = 'drive-sync:show-status';
  export const disconnect = 'drive-sync:disconnect';
  export const restore = 'drive-sync:restore';
}

/** JupyterLab's (and Notebook 7's) command that reloads the file browser's listing. */
const FILEBROWSER_REFRESH = 'filebrowser:refresh';

/** Name of the TopBar toolbar item (see schema/plugin.json). */
const TOPBAR_ITEM = 'drive-sync-status';
/** Name of the Notebook and FileBrowser toolbar items. */
const TOOLBAR_ITEM = 'drive-sync';
const CATEGORY = 'Google Drive Backup';

interface ISettings {
  promptOnStartup: boolean;
  showInToolbars: boolean;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Back up the home folder to Google Drive: prompt, Sync now, live progress.',
  autoStart: true,
  optional: [ISettingRegistry, IStatusBar, ICommandPalette, IToolbarWidgetRegistry],
  activate: (
    app: JupyterFrontEnd,
    settingRegistry: ISettingRegistry | null,
    statusBar: IStatusBar | null,
    palette: ICommandPalette | null,
    toolbarRegistry: IToolbarWidgetRegistry | null
  ): void => {
    const model = new SyncModel();
    const settings: ISettings = { promptOnStartup: true, showInToolbars: true };
    const startedHere = new Set<string>();
    const hubUser = PageConfig.getOption('hubUser') || undefined;
    const { commands } = app;

    const refreshCommands = () => {
      commands.notifyCommandChanged(CommandIDs.syncNow);
      commands.notifyCommandChanged(CommandIDs.connect);
      commands.notifyCommandChanged(CommandIDs.restore);
    };
    model.changed.connect(refreshCommands);

    /** Start a push; say plainly why when it cannot start. */
    const sync = async (): Promise<void> => {
      const job = await model.syncNow();
      if (job) {
        startedHere.add(job.id);
        return;
      }
      await explain(model.error);
    };

    /**
     * Connect (popup opened synchronously by the caller's click), then start the first sync.
     * When the Drive folder already holds a backup (a new hub or volume), ask first: the
     * student may want their files back before anything else.
     */
    const connectThenSync = async (connecting: Promise<boolean>): Promise<void> => {
      const connected = await connecting;
      if (!connected) {
        return;
      }
      const account = model.status?.account;
      if (model.status?.hasBackup) {
        const answer = await showRestoreOffer(model.status, hubUser);
        if (answer === 'restore') {
          await restore();
        } else if (answer === 'sync') {
          await sync();
        }
        return;
      }
      Notification.success(
        `Google Drive connected${account ? ` (${account})` : ''}. Backing up your home folder now.`,
        { autoClose: 5000 }
      );
      await sync();
    };

    const explain = async (error: IRunError | null): Promise<void> => {
      if (!error) {
        return;
      }
      if (await showError(error)) {
        // The dialog button click is the user gesture that allows the popup.
        await connectThenSync(openConsent(model));
      }
    };

    /** The restore dialog, then the restore itself (followed like a push). */
    const restore = async (): Promise<void> => {
      const answer = await showRestoreDialog(folderName(model.status, hubUser));
      if (!answer) {
        return;
      }
      if (!isChoice(answer)) {
        await explainRestore(answer);
        return;
      }
      const job = await model.restore(answer.path, answer.overwrite);
      if (job) {
        startedHere.add(job.id);
        return;
      }
      await explainRestore(model.restoreError);
    };

    const explainRestore = async (error: IRunError | null): Promise<void> => {
      if (error && (await showError(error))) {
        if (await openConsent(model)) {
          await restore();
        }
      }
    };

    const openDetails = async (): Promise<void> => {
      const action = await showDetails(model, hubUser);
      if (action === 'connect') {
        await connectThenSync(openConsent(model));
      } else if (action === 'restore') {
        await restore();
      } else if (action === 'sync') {
        await sync();
      } else if (action === 'skipped') {
        await showSkipped();
      }
    };

    const showSkipped = async (): Promise<void> => {
      const last = model.status?.lastPush;
      const list = [...(last?.skipped ?? []), ...(last?.failed ?? [])];
      await showProblems(`${countText(list.length, 'file')} not backed up`, list);
    };

    commands.addCommand(CommandIDs.syncNow, {
      label: args => {
        const job = model.job;
        if (model.running && job) {
          const pct = percent(job);
          const verb = job.kind === 'restore' ? 'Restoring' : 'Syncing';
          return pct === null ? `${verb}…` : `${verb} ${pct}%`;
        }
        return args.toolbar ? 'Sync now' : 'Sync Home Folder to Google Drive Now';
      },
      caption: () =>
        model.running
          ? 'A backup to Google Drive is running'
          : 'Back up your home folder to Google Drive now',
      icon: cloudIcon,
      isEnabled: () => !model.running && model.status?.configured !== false,
      isVisible: args => !args.toolbar || settings.showInToolbars,
      execute: () => {
        const status = model.status;
        if (status && (!status.connected || status.needsReauth)) {
          // Still inside the click: the consent popup is allowed.
          return connectThenSync(openConsent(model));
        }
        return sync();
      }
    });

    commands.addCommand(CommandIDs.connect, {
      label: () =>
        model.status?.connected && !model.status.needsReauth
          ? 'Reconnect Google Drive'
          : 'Connect Google Drive',
      caption: 'Sign in with Google so your home folder can be backed up to your Drive',
      icon: cloudIcon,
      execute: () => connectThenSync(openConsent(model))
    });

    commands.addCommand(CommandIDs.restore, {
      label: 'Restore from Google Drive…',
      caption:
        'Bring files back from your Google Drive backup into your home folder ' +
        '(only files this app backed up are visible)',
      icon: cloudIcon,
      isEnabled: () => !model.running && model.status?.configured !== false,
      execute: () => {
        const status = model.status;
        if (status && (!status.connected || status.needsReauth)) {
          // Still inside the click: the consent popup is allowed. Then straight to the dialog.
          return openConsent(model).then(ok => (ok ? restore() : undefined));
        }
        return restore();
      }
    });

    commands.addCommand(CommandIDs.details, {
      label: 'Google Drive Backup Status',
      caption: 'Show the backup status, the last sync and skipped files',
      execute: () => openDetails()
    });

    commands.addCommand(CommandIDs.disconnect, {
      label: 'Disconnect Google Drive',
      caption: 'Stop backing up and forget the Google sign-in (files on Drive stay)',
      isEnabled: () => !!model.status?.connected,
      execute: async () => {
        await api.disconnect();
        await model.refresh();
        Notification.info('Google Drive disconnected. Your files on Drive were kept.', {
          autoClose: 5000
        });
      }
    });

    if (palette) {
      for (const command of Object.values(CommandIDs)) {
        palette.addItem({ command, category: CATEGORY });
      }
    }

    // The indicator: status bar in JupyterLab, top bar in Notebook 7 (which has no status bar).
    const makeIndicator = (placement: 'statusbar' | 'topbar') =>
      new DriveSyncStatus({
        model,
        placement,
        onOpen: () => void openDetails(),
        onShowSkipped: () => void showSkipped()
      });
    if (statusBar) {
      statusBar.registerStatusItem(PLUGIN_ID, {
        item: makeIndicator('statusbar'),
        align: 'left',
        rank: 900,
        isActive: () => true
      });
    }
    if (toolbarRegistry) {
      // The default toolbar factory drops the label of a command with an icon; ours keeps it,
      // so the button itself reads "Sync now" / "Syncing 45%".
      for (const toolbar of ['Notebook', 'FileBrowser']) {
        toolbarRegistry.addFactory(toolbar, TOOLBAR_ITEM, () => {
          const button = new CommandToolbarButton({
            commands,
            id: CommandIDs.syncNow,
            args: { toolbar: true }
          });
          button.addClass('jp-DriveSync-button');
          return button;
        });
      }
      toolbarRegistry.addFactory('TopBar', TOPBAR_ITEM, () => {
        if (statusBar) {
          // JupyterLab shows the status bar item; an empty placeholder avoids a duplicate.
          const placeholder = new Widget();
          placeholder.hide();
          return placeholder;
        }
        return makeIndicator('topbar');
      });
    } else if (!statusBar) {
      app.shell.add(makeIndicator('topbar'), 'top', { rank: 1000 });
    }

    model.jobFinished.connect((_, job) => {
      if (job.kind === 'restore') {
        // Files appeared (or may have, when it failed midway): show them wherever it ran.
        void refreshFileBrowser();
      }
      if (startedHere.delete(job.id)) {
        if (job.kind === 'restore') {
          notifyRestored(job);
        } else {
          notifyFinished(job);
        }
      }
    });

    const refreshFileBrowser = async (): Promise<void> => {
      if (commands.hasCommand(FILEBROWSER_REFRESH)) {
        try {
          await commands.execute(FILEBROWSER_REFRESH);
        } catch (error) {
          console.warn('drive-sync: could not refresh the file browser', error);
        }
      }
    };

    const notifyRestored = (job: IJob) => {
      const summary = job.restoreSummary;
      if (job.state === 'failed' || !summary) {
        const words = describeError(job.error ?? { kind: 'other', message: '' });
        Notification.error(`Restore stopped: ${words.title}. ${words.text}`, { autoClose: false });
        return;
      }
      const problems = summary.skipped.length + summary.failed.length;
      const noteworthy = problems + summary.renamed.length;
      (problems ? Notification.warning : Notification.success)(restoreSummaryText(summary), {
        autoClose: noteworthy ? false : 8000,
        actions: [{ label: 'Details', callback: () => void showRestoreSummary(summary) }]
      });
    };

    const notifyFinished = (job: IJob) => {
      if (job.state === 'failed' && job.error) {
        const words = describeError(job.error);
        Notification.error(`${words.title}. ${words.text}`, {
          autoClose: false,
          actions:
            job.error.kind === 'reconnect'
              ? [
                  {
                    label: 'Reconnect',
                    callback: () => void connectThenSync(openConsent(model))
                  }
                ]
              : []
        });
        return;
      }
      const summary = job.summary ?? model.status?.lastPush ?? null;
      const changed = summary ? summary.created + summary.updated : job.filesDone;
      const uploaded = summary ? summary.bytesUploaded : job.bytesDone;
      const problems = summary ? summary.skipped.length + summary.failed.length : 0;
      const url = model.status?.rootFolderUrl;
      const actions: Notification.IAction[] = [];
      if (url) {
        actions.push({ label: 'Open in Drive', callback: () => window.open(url, '_blank', 'noopener') });
      }
      if (problems) {
        actions.push({ label: 'Show skipped', callback: () => void showSkipped() });
      }
      const text =
        changed === 0
          ? 'Backup finished: everything was already up to date.'
          : `Backup finished: ${countText(changed, 'file')} copied (${formatBytes(uploaded)}).`;
      const tail = problems ? ` ${countText(problems, 'file')} skipped.` : '';
      (problems ? Notification.warning : Notification.success)(text + tail, {
        autoClose: problems ? false : 6000,
        actions
      });
    };

    const loadSettings = async (): Promise<void> => {
      if (!settingRegistry) {
        return;
      }
      try {
        const loaded = await settingRegistry.load(PLUGIN_ID);
        const apply = () => {
          settings.promptOnStartup = loaded.get('promptOnStartup').composite !== false;
          settings.showInToolbars = loaded.get('showInToolbars').composite !== false;
          refreshCommands();
        };
        apply();
        loaded.changed.connect(apply);
      } catch (error) {
        console.warn('drive-sync: settings not loaded, using defaults', error);
      }
    };

    model.start();

    // Never await app.restored inside activate: that deadlocks start-up.
    void Promise.all([app.restored, loadSettings()]).then(async () => {
      const status = model.status ?? (await model.refresh());
      // Marks the start-up decision on <body> (data-drive-sync-prompt), for UI tests and styling.
      const shown = !!status?.configured && !!status.prompt && settings.promptOnStartup;
      document.body.dataset.driveSyncPrompt = shown ? 'shown' : 'skipped';
      if (!shown) {
        return;
      }
      const answer = await showPrompt(status!, hubUser);
      if (answer === 'connect') {
        await connectThenSync(openConsent(model));
      } else {
        await model.rememberPrompt(answer);
      }
    });
  }
};

export default plugin;
