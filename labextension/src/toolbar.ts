/**
 * The "Sync now" button of the notebook and file-browser toolbars. Declared as toolbar items
 * in `schema/plugin.json`, so users can move or hide them in the Settings Editor.
 */
import type { IToolbarWidgetRegistry } from '@jupyterlab/apputils';
import { CommandToolbarButton } from '@jupyterlab/ui-components';
import type { CommandRegistry } from '@lumino/commands';

import { CommandIDs } from './tokens';

/** Name of the Notebook and FileBrowser toolbar items (see schema/plugin.json). */
const TOOLBAR_ITEM = 'drive-sync';

/** The toolbars that get the button. */
const TOOLBARS = ['Notebook', 'FileBrowser'];

export function addSyncButtons(registry: IToolbarWidgetRegistry, commands: CommandRegistry): void {
  // The default toolbar factory drops the label of a command with an icon; ours keeps it,
  // so the button itself reads "Sync now" / "Syncing 45%".
  for (const toolbar of TOOLBARS) {
    registry.addFactory(toolbar, TOOLBAR_ITEM, () => {
      const button = new CommandToolbarButton({
        commands,
        id: CommandIDs.syncNow,
        args: { toolbar: true }
      });
      button.addClass('jp-DriveSync-button');
      return button;
    });
  }
}
