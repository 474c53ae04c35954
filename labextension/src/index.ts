/**
 * jupyter-drive-sync frontend for JupyterLab 4 and Notebook 7.
 *
 * One plugin wires the pieces: the model (status + job polling), the commands (`drive-sync:*`,
 * used by toolbars, the File menu and the palette), the toolbar button, the status item
 * (status bar in JupyterLab, top bar in Notebook 7), the end-of-job notifications and the
 * first-login prompt. Toolbar buttons and the menu entry are declared in `schema/plugin.json`,
 * so users can move or hide them in the Settings Editor.
 */
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, IToolbarWidgetRegistry } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';

import { SyncActions } from './actions';
import { addCommands, refreshCommands } from './commands';
import { SyncModel } from './model';
import { notifyJobEnds } from './notifications';
import { defaultSettings, loadSettings } from './settings';
import { promptAfterStartup } from './startup';
import { placeIndicator } from './statusbar';
import { PLUGIN_ID } from './tokens';
import { addSyncButtons } from './toolbar';

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
    const actions = new SyncActions(model, PageConfig.getOption('hubUser') || undefined);
    const settings = defaultSettings();
    const { commands } = app;

    addCommands(commands, actions, settings, palette);
    placeIndicator(app, actions, statusBar, toolbarRegistry);
    if (toolbarRegistry) {
      addSyncButtons(toolbarRegistry, commands);
    }
    notifyJobEnds(commands, actions);

    model.start();
    const settingsLoaded = loadSettings(settingRegistry, settings, () => refreshCommands(commands));
    promptAfterStartup(app, actions, settings, settingsLoaded);
  }
};

export default plugin;
