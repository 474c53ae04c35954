/**
 * What went wrong → what the UI offers: the server's error kinds, Google's raw messages, HTTP
 * failures of our own server, and the words for each.
 */
import { classifyError, describeError, DriveSyncError, errorOf } from '../errors';
import type { IRunError } from '../types';

describe('classifyError', () => {
  it.each([
    ['needs_reauth', 'reconnect'],
    ['not_connected', 'reconnect'],
    ['drive_full', 'drive_full'],
    ['upload_cap', 'daily_cap'],
    ['already_running', 'busy'],
    ['nothing_to_restore', 'nothing'],
    ['config', 'config'],
    ['not_configured', 'config']
  ])('maps the server kind %s to %s', (kind, expected) => {
    expect(classifyError({ kind, message: 'words' })).toEqual({ kind: expected, message: 'words' });
  });

  it('reads the kind from `error` or `code` too', () => {
    expect(classifyError({ error: 'needs_reauth' })?.kind).toBe('reconnect');
    expect(classifyError({ code: 'drive_full', detail: 'no space' })).toEqual({
      kind: 'drive_full',
      message: 'no space'
    });
  });

  it.each([
    ['invalid_grant: Token has been expired or revoked.', 'reconnect'],
    ['Google Drive is not connected', 'reconnect'],
    ['storageQuotaExceeded: The user has exceeded their Drive storage quota', 'drive_full'],
    ['Daily upload limit exceeded (uploadLimitExceeded)', 'daily_cap'],
    ['socket timed out', 'other']
  ])('classifies the message "%s" as %s', (message, expected) => {
    expect(classifyError(message)).toEqual({ kind: expected, message });
    expect(classifyError({ kind: 'internal', message })?.kind).toBe(expected);
  });

  it.each([[null], [undefined], [false], ['']])('is null for %p (no error)', value => {
    expect(classifyError(value)).toBeNull();
  });

  it('still classifies an error object without any words', () => {
    expect(classifyError({})).toEqual({ kind: 'other', message: '' });
  });
});

describe('errorOf', () => {
  it("classifies the body's words", () => {
    const error = new DriveSyncError('invalid_grant', 400, {
      message: 'invalid_grant: Token has been expired or revoked.'
    });
    expect(errorOf(error)).toEqual({
      kind: 'reconnect',
      message: 'invalid_grant: Token has been expired or revoked.'
    });
  });

  it('uses a kind the body gives as an object', () => {
    const error = new DriveSyncError('full', 502, { error: { kind: 'drive_full', message: 'full' } });
    expect(errorOf(error)).toEqual({ kind: 'drive_full', message: 'full' });
  });

  // Known bug, kept out of this refactor (behaviour unchanged): the server's HTTP errors carry
  // their kind as a string (`{"error": "needs_reauth"}`), which classifyError reads as a message,
  // so the kind is lost. Drop `.failing` once errorOf maps string kinds.
  it.failing("maps the server's string kind (needs_reauth → reconnect)", () => {
    const error = new DriveSyncError('Reconnect Google Drive', 409, {
      error: 'needs_reauth',
      message: 'Reconnect Google Drive'
    });
    expect(errorOf(error).kind).toBe('reconnect');
  });

  // Known bug, as above: a body without words classifies as 'other' before the error's own
  // message is looked at, so that message is lost.
  it.failing('falls back to the error message when the body says nothing', () => {
    const error = new DriveSyncError('storageQuotaExceeded', 500, null);
    expect(errorOf(error)).toEqual({ kind: 'drive_full', message: 'storageQuotaExceeded' });
  });

  it('blames the Jupyter session, not Drive, for a 403 from our own server', () => {
    const error = new DriveSyncError('Forbidden', 403, { message: 'Forbidden' });
    expect(errorOf(error)).toEqual({
      kind: 'other',
      message: 'Your Jupyter session expired; reload the page.'
    });
  });

  it('keeps the words of any other refusal', () => {
    const error = new DriveSyncError('500 Internal Server Error', 500, { message: 'boom' });
    expect(errorOf(error)).toEqual({ kind: 'other', message: 'boom' });
  });

  it('says the server could not be reached for anything that is not an HTTP answer', () => {
    expect(errorOf(new TypeError('Failed to fetch'))).toEqual({
      kind: 'other',
      message: 'Could not reach the Jupyter server.'
    });
  });
});

describe('describeError', () => {
  const kinds: IRunError['kind'][] = [
    'reconnect',
    'drive_full',
    'daily_cap',
    'busy',
    'config',
    'nothing',
    'other'
  ];

  it.each(kinds)('has a title and a text for %s', kind => {
    const words = describeError({ kind, message: 'detail' });
    expect(words.title).not.toBe('');
    expect(words.text).not.toBe('');
  });

  it('tells what to do next', () => {
    expect(describeError({ kind: 'reconnect', message: '' }).title).toBe('Reconnect Google Drive');
    expect(describeError({ kind: 'drive_full', message: '' }).text).toContain('Free up space');
    expect(describeError({ kind: 'daily_cap', message: '' }).text).toContain('tomorrow');
  });

  it('passes a configuration problem on to the administrator', () => {
    expect(describeError({ kind: 'config', message: 'no client id' }).text).toBe(
      'Ask your hub administrator: no client id'
    );
  });

  it("shows an unknown error's message, or a generic line when it has none", () => {
    expect(describeError({ kind: 'other', message: 'disk I/O error' }).text).toBe(
      'Something went wrong: disk I/O error'
    );
    expect(describeError({ kind: 'other', message: '' }).text).toBe(
      'Something went wrong. Try again later.'
    );
  });
});
