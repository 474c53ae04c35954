/**
 * Shared test data for the frontend's unit tests: one place that knows every IStatus field, so
 * a new field is added once, not in every spec.
 */
import type { IStatus } from '../types';

/** A configured, disconnected status with nothing recorded; `fields` overrides any part. */
export function statusWith(fields: Partial<IStatus> = {}): IStatus {
  return {
    configured: true,
    connected: false,
    account: null,
    needsReauth: false,
    prompt: false,
    rootFolderUrl: null,
    folder: null,
    lastPush: null,
    lastError: null,
    job: null,
    hasBackup: false,
    authError: null,
    authErrorAt: null,
    ...fields
  };
}
