/**
 * The REST client for the server extension's `drive-sync/...` routes.
 *
 * Every call goes through `ServerConnection.makeRequest`, which adds the Jupyter token and the
 * XSRF header, so the same code works standalone, under JupyterHub and behind a base URL.
 * The server's JSON is normalised by `parse.ts`, in one place, so the rest of the UI never
 * guesses at field names.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { DriveSyncError } from './errors';
import {
  errorMessage,
  parseBody,
  parseJob,
  parseRemoteListing,
  parseStartedJob,
  parseStatus
} from './parse';
import type { IJob, IRemoteListing, IStatus, OverwritePolicy, PromptChoice } from './types';

const ROUTE = 'drive-sync';

/** The absolute URL of a drive-sync route (for links and popups, which cannot use fetch). */
export function routeUrl(...parts: string[]): string {
  const settings = ServerConnection.makeSettings();
  return URLExt.join(settings.baseUrl, ROUTE, ...parts);
}

async function request(
  parts: string[],
  init: RequestInit = {},
  okStatuses: number[] = [],
  query: Record<string, string> = {}
): Promise<any> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, ROUTE, ...parts) + URLExt.objectToQueryString(query);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const body = parseBody(await response.text());
  if (!response.ok && !okStatuses.includes(response.status)) {
    throw new DriveSyncError(
      errorMessage(body, response.status, response.statusText),
      response.status,
      body
    );
  }
  return body;
}

/** The server extension's routes, as typed calls. */
export const api = {
  async status(): Promise<IStatus> {
    return parseStatus(await request(['status']));
  },

  /** Start a push; when one already runs (409) its job is returned instead. */
  async push(): Promise<IJob> {
    const body = await request(['push'], { method: 'POST', body: '{}' }, [409]);
    const job = parseStartedJob(body);
    if (!job) {
      // A 409 without a job is a refusal (e.g. needs_reauth), not "already running".
      throw new DriveSyncError(body?.message ?? 'The push did not start.', 409, body);
    }
    return job;
  },

  async job(id: string): Promise<IJob> {
    const job = parseJob(await request(['push', encodeURIComponent(id)]));
    if (!job) {
      throw new DriveSyncError('The server returned no job.', 500, null);
    }
    if (!job.id) {
      job.id = id;
    }
    return job;
  },

  /**
   * Start a restore of `path` ("" = everything). Unlike a push, a running job (409) is not
   * joined: the restore did not start, so that is an `already_running` error.
   */
  async restore(path: string, overwrite: OverwritePolicy): Promise<IJob> {
    let body: any;
    try {
      body = await request(['restore'], {
        method: 'POST',
        body: JSON.stringify({ path, overwrite })
      });
    } catch (error) {
      if (error instanceof DriveSyncError && error.status === 409 && error.body?.job) {
        throw new DriveSyncError(error.message, 409, { ...error.body, error: 'already_running' });
      }
      throw error;
    }
    const job = parseStartedJob(body);
    if (!job) {
      throw new DriveSyncError('The restore did not start.', 500, body);
    }
    return job;
  },

  /** What the Drive backup holds at `path` ("" = the backup folder itself). */
  async remote(path: string): Promise<IRemoteListing> {
    return parseRemoteListing(await request(['remote'], {}, [], { path }), path);
  },

  async prompt(choice: PromptChoice): Promise<void> {
    await request(['prompt'], {
      method: 'POST',
      body: JSON.stringify({ choice })
    });
  },

  async disconnect(): Promise<void> {
    await request(['disconnect'], { method: 'POST', body: '{}' });
  },

  /** The page that starts Google's consent (opened in a popup, never fetched). */
  authStartUrl(): string {
    return routeUrl('auth', 'start');
  }
};
