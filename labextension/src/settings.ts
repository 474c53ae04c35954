/**
 * The user's settings (Settings Editor, `schema/plugin.json`). Missing or failing settings
 * fall back to the defaults: the backup must work even where the registry does not.
 */
import type { ISettingRegistry } from '@jupyterlab/settingregistry';

import { PLUGIN_ID } from './tokens';

export interface ISettings {
  /** Ask "Back up your home folder to Google Drive?" on the first visit. */
  promptOnStartup: boolean;
  /** Show the "Sync now" button in the notebook and file-browser toolbars. */
  showInToolbars: boolean;
}

export function defaultSettings(): ISettings {
  return { promptOnStartup: true, showInToolbars: true };
}

/**
 * Load the settings into `settings` (mutated in place, so readers always see the current
 * values) and keep them current; `onChange` runs after every (re)load.
 */
export async function loadSettings(
  registry: ISettingRegistry | null,
  settings: ISettings,
  onChange: () => void
): Promise<void> {
  if (!registry) {
    return;
  }
  try {
    const loaded = await registry.load(PLUGIN_ID);
    const apply = () => {
      settings.promptOnStartup = loaded.get('promptOnStartup').composite !== false;
      settings.showInToolbars = loaded.get('showInToolbars').composite !== false;
      onChange();
    };
    apply();
    loaded.changed.connect(apply);
  } catch (error) {
    console.warn('drive-sync: settings not loaded, using defaults', error);
  }
}
