/**
 * The first-login question, asked once the page has restored its layout and the settings are
 * loaded: the student may have turned the question off in the Settings Editor.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';

import type { SyncActions } from './actions';
import { showPrompt } from './dialogs';
import type { ISettings } from './settings';

/**
 * Ask "Back up your home folder to Google Drive?" when the server says so. Returns at once:
 * awaiting `app.restored` inside `activate` would deadlock start-up.
 */
export function promptAfterStartup(
  app: JupyterFrontEnd,
  actions: SyncActions,
  settings: ISettings,
  settingsLoaded: Promise<void>
): void {
  const { model } = actions;
  void Promise.all([app.restored, settingsLoaded]).then(async () => {
    const status = model.status ?? (await model.refresh());
    // Marks the start-up decision on <body> (data-drive-sync-prompt), for UI tests and styling.
    const shown = !!status?.configured && !!status.prompt && settings.promptOnStartup;
    document.body.dataset.driveSyncPrompt = shown ? 'shown' : 'skipped';
    if (!shown) {
      return;
    }
    const answer = await showPrompt(status!, actions.hubUser);
    if (answer === 'connect') {
      await actions.connect();
    } else {
      await model.rememberPrompt(answer);
    }
  });
}
