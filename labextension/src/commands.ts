/**
 * The `drive-sync:*` commands. Toolbars, the File menu and the palette all show these, so a
 * label or an enabled state is decided once, here, from the model.
 */
import { ICommandPalette } from '@jupyterlab/apputils';
import type { CommandRegistry } from '@lumino/commands';

import type { SyncActions } from './actions';
import { openConsent } from './connect';
import { percent } from './format';
import { cloudIcon } from './icons';
import type { ISettings } from './settings';
import { CommandIDs } from './tokens';

/** The palette's category for every command. */
const CATEGORY = 'Google Drive Backup';

/** Re-read the labels and states that depend on the model or the settings. */
export function refreshCommands(commands: CommandRegistry): void {
  commands.notifyCommandChanged(CommandIDs.syncNow);
  commands.notifyCommandChanged(CommandIDs.connect);
  commands.notifyCommandChanged(CommandIDs.restore);
  commands.notifyCommandChanged(CommandIDs.switchAccount);
  commands.notifyCommandChanged(CommandIDs.disconnect);
}

/** Register the commands (and list them in the palette when there is one). */
export function addCommands(
  commands: CommandRegistry,
  actions: SyncActions,
  settings: ISettings,
  palette: ICommandPalette | null
): void {
  const { model } = actions;
  model.changed.connect(() => refreshCommands(commands));

  commands.addCommand(CommandIDs.syncNow, {
    label: args => {
      const job = model.job;
      if (model.running && job) {
        const pct = percent(job);
        const verb = job.kind === 'restore' ? 'Restoring' : 'Syncing';
        return pct === null ? `${verb}…` : `${verb} ${pct}%`;
      }
      if (args.toolbar) {
        return 'Sync now';
      }
      return args.menu ? 'Sync Now' : 'Sync Home Folder to Google Drive Now';
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
        return actions.connect();
      }
      return actions.sync();
    }
  });

  commands.addCommand(CommandIDs.connect, {
    label: () =>
      model.status?.connected && !model.status.needsReauth
        ? 'Reconnect Google Drive'
        : 'Connect Google Drive',
    // In the Google Drive menu only when there is something to connect.
    isVisible: args => !args.menu || !model.status?.connected || !!model.status?.needsReauth,
    caption: 'Sign in with Google so your home folder can be backed up to your Drive',
    icon: cloudIcon,
    execute: () => actions.connect()
  });

  commands.addCommand(CommandIDs.restore, {
    label: args => (args.menu ? 'Restore…' : 'Restore from Google Drive…'),
    caption:
      'Bring files back from your Google Drive backup into your home folder ' +
      '(only files this app backed up are visible)',
    icon: cloudIcon,
    isEnabled: () => !model.running && model.status?.configured !== false,
    execute: () => {
      const status = model.status;
      if (status && (!status.connected || status.needsReauth)) {
        // Still inside the click: the consent popup is allowed. Then straight to the dialog.
        return openConsent(model).then(ok => (ok ? actions.restore() : undefined));
      }
      return actions.restore();
    }
  });

  commands.addCommand(CommandIDs.details, {
    label: args => (args.menu ? 'Backup Status…' : 'Google Drive Backup Status'),
    caption: 'Show the backup status, the last sync and skipped files',
    execute: () => actions.openDetails()
  });

  commands.addCommand(CommandIDs.switchAccount, {
    label: args => (args.menu ? 'Switch Google Account…' : 'Switch Google Drive Account…'),
    caption: 'Back up to another Google account from now on (the backup in the current one stays)',
    icon: cloudIcon,
    isEnabled: () => !model.running && !!model.status?.connected,
    execute: () => actions.confirmAndSwitch()
  });

  commands.addCommand(CommandIDs.disconnect, {
    label: args => (args.menu ? 'Disconnect' : 'Disconnect Google Drive'),
    caption: 'Stop backing up and forget the Google sign-in (files on Drive stay)',
    isEnabled: () => !model.running && !!model.status?.connected,
    execute: () => actions.disconnect()
  });

  if (palette) {
    for (const command of Object.values(CommandIDs)) {
      palette.addItem({ command, category: CATEGORY });
    }
  }
}
