// jupyter-drive-sync for the classic notebook (nbclassic) tree page: the same first-login
// prompt, "Sync now" button and "Google Drive" menu (Sync now, Restore…, Switch Google
// account…, Disconnect) as the JupyterLab / Notebook 7 extension, in plain AMD JS.
// It talks to the same REST routes (drive-sync/status, push, push/<id>, restore, prompt,
// disconnect, auth/start). The words match labextension/src/errors.ts and format.ts.
define([
  'jquery',
  'base/js/utils',
  'base/js/dialog'
], function ($, utils, dialog) {
  'use strict';

  var CONNECTED_MESSAGE = 'drive-sync:connected';
  var ERROR_MESSAGE = 'drive-sync:error';
  var baseUrl = utils.get_body_data('baseUrl') || '/';
  var state = { status: null, job: null, error: null, following: null, note: null };
  // Said (not as an error) when the student closed the Google window without Allow or Deny.
  var CLOSED_WORDS = 'The Google sign-in window was closed before you chose. Connect again when you are ready.';
  var $widget, $button, $text, $link, $skipped, $menu;

  function url() {
    var parts = ['drive-sync'].concat(Array.prototype.slice.call(arguments));
    return utils.url_path_join.apply(null, [baseUrl].concat(parts));
  }

  function call(method, path, body) {
    // utils.ajax adds the XSRF header (and the token) like the rest of the classic UI.
    return new Promise(function (resolve, reject) {
      utils.ajax(url.apply(null, path), {
        type: method,
        dataType: 'json',
        contentType: 'application/json',
        data: body === undefined ? undefined : JSON.stringify(body),
        success: function (data) { resolve(data || {}); },
        error: function (xhr) {
          var data = null;
          try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
          if (xhr.status === 409 && data && data.job && path[0] === 'push') { resolve(data); return; }
          reject({ status: xhr.status, body: data || {}, message: (data && (data.message || data.reason)) || xhr.statusText });
        }
      });
    });
  }

  // ---- words ---------------------------------------------------------------------------------

  // Every error kind the server can send (server/jobs.py error_kind, server/handlers.py,
  // auth OAuthError kinds) → what we say; the same table as labextension/src/errors.ts.
  var KINDS = {
    needs_reauth: 'reconnect', not_connected: 'reconnect', drive_full: 'drive_full',
    upload_cap: 'daily_cap', drive_refused: 'drive_error', drive_error: 'drive_error',
    drive_unreachable: 'network', already_running: 'busy', nothing_to_restore: 'nothing',
    config: 'config', not_configured: 'config', environment: 'environment',
    access_denied: 'denied', bad_state: 'signin', exchange_failed: 'signin', expired: 'signin',
    sync_error: 'other', internal: 'internal'
  };

  function classify(raw) {
    if (!raw) { return null; }
    var code = typeof raw === 'string' ? raw
      : String(raw.kind || (typeof raw.error === 'string' ? raw.error : '') || '');
    if (KINDS[code]) { return KINDS[code]; }
    if (raw.error && typeof raw.error === 'object') { return classify(raw.error); }
    var text = (code + ' ' + (raw.message || '')).toLowerCase();
    if (/invalid_grant|revoked|reconnect|not connected/.test(text)) { return 'reconnect'; }
    if (/storagequotaexceeded|drive is full/.test(text)) { return 'drive_full'; }
    return 'other';
  }

  var TRY_AGAIN = 'Press Sync now again in a few minutes; if it keeps happening, tell your course staff.';
  // One plain sentence per kind and what to do next; never a code or an exception name.
  var ERROR_WORDS = {
    reconnect: 'Reconnect Google Drive: access was removed or expired. Connect again to keep backing up.',
    drive_full: 'Your Google Drive is full: free up space, then press Sync now again.',
    daily_cap: "Google Drive's daily upload limit reached: the rest is backed up tomorrow.",
    busy: 'A backup or restore is already running. Try again in a few minutes.',
    nothing: 'Nothing to restore: your Drive holds no backup made by this app.',
    config: 'Backup is not set up correctly. Tell your hub administrator.',
    environment: 'The backup could not use your home folder (a permission or a full disk). Free some space, then press Sync now again.',
    network: 'Google Drive could not be reached. ' + TRY_AGAIN,
    drive_error: 'Google Drive refused the backup this time. ' + TRY_AGAIN,
    denied: 'Google Drive was not connected: you did not allow access. To back up, connect again and press Allow.',
    signin: 'The Google sign-in did not finish. Connect Google Drive again to start a new one.',
    session: 'Your Jupyter session expired. Reload this page, then try again.',
    internal: 'The backup stopped on an unexpected problem. ' + TRY_AGAIN,
    other: 'The backup did not finish. ' + TRY_AGAIN
  };

  function count(n, noun) { return n.toLocaleString('en-US') + ' ' + noun + (n === 1 ? '' : 's'); }

  // "1 folder", "3 files", "1 folder and 2 files" (engine/status.py tells folders).
  function countItems(entries) {
    var folders = entries.filter(function (e) { return e.is_folder; }).length;
    var files = entries.length - folders;
    var parts = [];
    if (folders) { parts.push(count(folders, 'folder')); }
    if (files || !folders) { parts.push(count(files, 'file')); }
    return parts.join(' and ');
  }

  // A summary's left-out paths: real problems (failed, and skipped ones that are problems),
  // notes, and what was kept off Drive on purpose (secrets, own state, links): not a warning.
  function sortProblems(summary) {
    var skipped = (summary && summary.skipped) || [];
    var cat = function (c) { return function (e) { return (e.category || 'problem') === c; }; };
    return {
      problems: ((summary && summary.failed) || []).concat(skipped.filter(cat('problem'))),
      notices: skipped.filter(cat('notice')),
      onPurpose: skipped.filter(cat('on_purpose'))
    };
  }

  function etaText(s) {
    if (s < 45) { return 'less than a minute left'; }
    var m = Math.max(1, Math.round(s / 60));
    if (m < 60) { return 'about ' + m + ' min left'; }
    var h = Math.floor(m / 60);
    return m % 60 ? 'about ' + h + ' h ' + (m % 60) + ' min left' : 'about ' + h + ' h left';
  }

  function timeAgo(ms) {
    var s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 45) { return 'just now'; }
    var m = Math.round(s / 60);
    if (m < 60) { return m + ' min ago'; }
    var h = Math.round(m / 60);
    if (h < 24) { return h + ' h ago'; }
    return Math.round(h / 24) + ' days ago';
  }

  function parseTime(v) {
    if (typeof v === 'number') { return v < 1e12 ? v * 1000 : v; }
    if (typeof v === 'string' && v) { var t = Date.parse(v); return isNaN(t) ? null : t; }
    return null;
  }

  function finishedAt(lastPush) {
    if (!lastPush) { return null; }
    var s = lastPush.summary || lastPush;
    return parseTime(lastPush.finished_at || lastPush.finished || lastPush.ended_at || lastPush.time ||
                     s.finished_at || s.finished || s.ended_at);
  }

  function progress(job) {
    var p = job.progress || job;
    var num = function (v) { return typeof v === 'number' && isFinite(v) && v >= 0 ? v : null; };
    return {
      kind: job.kind === 'restore' ? 'restore' : 'push',
      state: String(job.state || job.status || 'running').toLowerCase(),
      filesDone: p.files_done || 0, filesTotal: p.files_total || 0,
      bytesDone: p.bytes_done || 0, bytesTotal: p.bytes_total || 0,
      current: p.current_path || null,
      eta: num(p.eta_seconds), currentKind: typeof p.current_kind === 'string' ? p.current_kind : null
    };
  }

  function progressText(p) {
    if (p.kind === 'push' && p.filesTotal && (p.currentKind || p.eta !== null)) {
      return (p.currentKind ? 'Backing up ' + p.currentKind : 'Backing up') + ' — ' +
        p.filesDone.toLocaleString('en-US') + ' of ' + count(p.filesTotal, 'file') +
        (p.eta !== null ? ', ' + etaText(p.eta) : '');
    }
    var pct = p.bytesTotal ? Math.floor(100 * p.bytesDone / p.bytesTotal)
      : (p.filesTotal ? Math.floor(100 * p.filesDone / p.filesTotal) : null);
    return (p.kind === 'restore' ? 'Restoring' : 'Syncing') + (pct === null ? '' : ' ' + pct + '%') +
      ' · ' + p.filesDone + '/' + p.filesTotal + ' files';
  }

  function isFinished(s) {
    return ['done', 'failed', 'finished', 'succeeded', 'success', 'completed', 'error', 'errored'].indexOf(s) >= 0;
  }

  // ---- rendering ---------------------------------------------------------------------------------

  function setMenu(st) {
    var connected = !!(st && st.connected);
    var running = !!state.job;
    var toggle = function (sel, on) { $menu.find(sel).closest('li').toggleClass('disabled', !on); };
    toggle('.drive-sync-menu-sync', !running);
    toggle('.drive-sync-menu-restore', !running && connected);
    toggle('.drive-sync-menu-switch', !running && connected);
    toggle('.drive-sync-menu-disconnect', !running && connected);
    $menu.find('.drive-sync-menu-connect').closest('li').toggle(!connected || !!st.needs_reauth);
  }

  function render() {
    var st = state.status;
    if (!st || st.configured === false) { $widget.hide(); return; }
    $widget.show();
    setMenu(st);
    $link.hide();
    $skipped.hide();
    $widget.attr('data-state', 'idle');
    if (state.job) {
      var p = progress(state.job);
      $text.text(progressText(p));
      $text.attr('title', p.current ? 'now: ' + p.current : '');
      $button.prop('disabled', true);
      $widget.attr('data-state', 'running');
      return;
    }
    $button.prop('disabled', false);
    var kind = st.needs_reauth ? 'reconnect'
      : (state.error || (st.last_push && st.last_push.error ? classify(st.last_push.error) : null));
    if (!st.connected) {
      $button.text('Connect Google Drive');
      $text.text(state.error && state.error !== 'reconnect' ? ERROR_WORDS[state.error] : (state.note || 'Not backed up yet'));
      $widget.attr('data-state', state.error ? 'error' : 'disconnected');
      return;
    }
    $button.text(kind === 'reconnect' ? 'Reconnect Google Drive' : 'Sync now');
    if (kind) {
      $text.text(kind === 'reconnect' && state.note ? state.note : (ERROR_WORDS[kind] || ERROR_WORDS.other));
      $widget.attr('data-state', 'error');
    } else {
      var when = finishedAt(st.last_push);
      $text.text(when ? 'Synced ' + timeAgo(when) : 'Not synced yet');
      $widget.attr('data-state', when ? 'synced' : 'connected');
      var summary = st.last_push ? (st.last_push.summary || st.last_push) : null;
      var problems = sortProblems(summary).problems;
      if (problems.length) {
        $widget.attr('data-state', 'warning');
        $skipped.text(countItems(problems) + ' not backed up').show();
      }
    }
    if (st.root_folder_url) { $link.attr('href', st.root_folder_url).show(); }
  }

  function refresh() {
    return call('GET', ['status']).then(function (st) {
      state.status = st;
      if (st.connected && !st.needs_reauth) {
        if (state.error === 'reconnect') { state.error = null; }
        state.note = null; // a closed sign-in is old news once connected: a later revocation says its own words
      }
      if (st.job && !isFinished(progress(st.job).state) && (st.job.id || st.job.job_id)) {
        follow(st.job);
      }
      render();
      return st;
    }, function () { return state.status; });
  }

  function follow(job) {
    var id = job.id || job.job_id;
    state.job = job;
    if (state.following === id) { return; }
    state.following = id;
    render();
    var tick = function () {
      call('GET', ['push', encodeURIComponent(id)]).then(function (j) {
        j = j.job || j;
        var p = progress(j);
        if (isFinished(p.state)) {
          state.job = null;
          state.following = null;
          state.error = null; // status.last_push now says how it ended
          refresh();
          return;
        }
        state.job = j;
        render();
        setTimeout(tick, 1000);
      }, function () {
        state.job = null;
        state.following = null;
        refresh();
      });
    };
    setTimeout(tick, 1000);
  }

  function errorOf(err) {
    if (err && err.status === 403) { return 'session'; }
    return classify(err && err.body && (err.body.error ? err.body : null)) || classify(err && err.message) || 'other';
  }

  function syncNow() {
    state.error = null;
    return call('POST', ['push'], {}).then(function (data) {
      if (!data.job) { state.error = classify(data) || 'other'; render(); return; }
      follow(data.job);
    }, function (err) {
      state.error = errorOf(err);
      render();
    });
  }

  // Must run inside a click handler: browsers allow popups only during a user gesture.
  // `before` (Switch account: disconnect first) runs while the popup waits, blank.
  function connect(before) {
    var popup = window.open(before ? '' : url('auth', 'start'), 'drive-sync-consent', 'popup=yes,width=520,height=680');
    var ready = before ? before() : Promise.resolve();
    if (!popup) {
      ready.then(function () { window.location.href = url('auth', 'start'); });
      return;
    }
    var done = false;
    state.note = null;
    $('body').attr('data-drive-sync-signin', 'waiting');
    render();
    var finish = function (errorKind) {
      if (done) { return; }
      done = true;
      window.removeEventListener('message', onMessage);
      if (errorKind) {
        try { popup.close(); } catch (e) { /* already closed */ }
        state.error = errorKind;
        $('body').attr('data-drive-sync-signin', errorKind);
        render();
        dialog.modal({ title: 'Google Drive was not connected', body: $('<p class="drive-sync-signin-error"/>').text(ERROR_WORDS[errorKind] || ERROR_WORDS.signin), buttons: { OK: {} } });
        return;
      }
      refresh().then(function (st) { if (st && st.connected) { $('body').attr('data-drive-sync-signin', 'connected'); syncNow(); } });
    };
    var onMessage = function (event) {
      if (event.origin !== window.location.origin || !event.data) { return; }
      if (event.data.type === CONNECTED_MESSAGE) { finish(null); }
      if (event.data.type === ERROR_MESSAGE) {
        var k = KINDS[String(event.data.error || '')];
        finish(k && k !== 'other' ? k : 'signin');
      }
    };
    window.addEventListener('message', onMessage);
    // The popup closed and the server recorded no outcome: the student closed it before
    // choosing. A close alone proves nothing (the popup closes itself after a success, or may
    // close while the callback is still handled), so the status is asked twice after the close
    // is seen before saying so (as labextension/src/signin.ts does).
    var finishClosed = function () {
      if (done) { return; }
      done = true;
      window.removeEventListener('message', onMessage);
      state.note = CLOSED_WORDS;
      $('body').attr('data-drive-sync-signin', 'closed');
      render();
    };
    var afterClose = 0;
    // Sleep `ms`, but wake as soon as the popup closes.
    var wait = function (ms, next) {
      var wasOpen = !popup.closed;
      var step = function (left) {
        if (left <= 0 || (wasOpen && popup.closed)) { next(); return; }
        setTimeout(function () { step(left - 250); }, Math.min(250, left));
      };
      step(ms);
    };
    // The first answer may still carry an earlier sign-in's failure (auth/start clears it once
    // the popup gets there): only a failure recorded after that one counts.
    var earlier;
    var poll = function () {
      if (done) { return; }
      var closedBefore = popup.closed; // only an answer asked for after the close counts
      call('GET', ['status']).then(function (st) {
        if (done) { return; }
        if (st.connected && !st.needs_reauth) { finish(null); return; }
        var at = st.auth_error ? st.auth_error.at : null;
        if (earlier === undefined) {
          earlier = at;
        } else if (st.auth_error && at !== earlier) {
          finish(classify(st.auth_error) === 'other' ? 'signin' : classify(st.auth_error));
          return;
        }
        if (closedBefore && ++afterClose >= 2) { finishClosed(); return; }
        wait(closedBefore ? 1000 : 1500, poll);
      }, function () {
        if (closedBefore && ++afterClose >= 2) { finishClosed(); return; }
        wait(closedBefore ? 1000 : 3000, poll);
      });
    };
    ready.then(function () {
      if (before) { popup.location.href = url('auth', 'start'); }
      poll();
    }, function (err) {
      try { popup.close(); } catch (e) { /* already closed */ }
      state.error = errorOf(err);
      render();
    });
  }

  function onButton() {
    var st = state.status;
    if (!st || !st.connected || st.needs_reauth || state.error === 'reconnect') { connect(); return; }
    syncNow();
  }

  function disconnectNow() {
    state.error = null;
    return call('POST', ['disconnect'], {}).then(function () { return refresh(); });
  }

  function switchAccount() {
    var who = (state.status && state.status.account) || 'the connected account';
    var $body = $('<div/>').append(
      $('<p/>').text('This disconnects ' + who + " and opens Google's sign-in, where you choose another account."),
      $('<p/>').text("Your home folder is then backed up to that account's Google Drive. The backup already in " +
                     who + "'s Drive stays there as it is."));
    dialog.modal({
      title: 'Switch Google account?', body: $body,
      buttons: {
        Cancel: {},
        'Choose another account': { 'class': 'btn-primary', click: function () { connect(disconnectNow); } }
      }
    });
  }

  function confirmDisconnect() {
    var who = (state.status && state.status.account) || 'your Google Drive';
    dialog.modal({
      title: 'Disconnect Google Drive?',
      body: $('<p/>').text('Backups to ' + who + ' stop, and this server forgets the sign-in. Your files on Google Drive stay where they are.'),
      buttons: { Cancel: {}, Disconnect: { 'class': 'btn-danger', click: function () { disconnectNow(); } } }
    });
  }

  function restoreAll() {
    dialog.modal({
      title: 'Restore from Google Drive',
      body: $('<div/>').append(
        $('<p/>').text('Bring back every file of your Google Drive backup into this home folder.'),
        $('<p/>').text('Files you already have here are kept as they are; only missing files come back. ' +
                       'To choose single files, use File → Google Drive → Restore… in JupyterLab.')),
      buttons: {
        Cancel: {},
        'Restore missing files': { 'class': 'btn-primary', click: function () {
          call('POST', ['restore'], { path: '', overwrite: 'never' }).then(function (data) {
            if (data.job) { follow(data.job); }
          }, function (err) { state.error = errorOf(err); render(); });
        } }
      }
    });
  }

  function table(entries, cls) {
    var $table = $('<table class="table table-condensed drive-sync-problems"/>').addClass(cls || '');
    $table.append($('<tr/>').append($('<th/>').text('File or folder'), $('<th/>').text('Why')));
    entries.forEach(function (p) {
      var name = (p.path || '(home)') + (p.is_folder ? '/' : '');
      $table.append($('<tr/>').append($('<td/>').text(name), $('<td/>').text(p.reason || p.error || '')));
    });
    return $table;
  }

  function leftOutBody(summary) {
    var sorted = sortProblems(summary);
    var $body = $('<div class="drive-sync-leftout"/>');
    if (sorted.problems.length) {
      $body.append($('<h4 class="drive-sync-problems-title"/>').text('Could not be backed up (' + countItems(sorted.problems) + ')'),
        $('<p/>').text('These are not on Drive. Fix what the reason says, then press Sync now again.'), table(sorted.problems));
    }
    if (sorted.notices.length) {
      $body.append($('<h4/>').text('Good to know'), table(sorted.notices));
    }
    if (sorted.onPurpose.length) {
      $body.append($('<h4 class="drive-sync-onpurpose-title"/>').text('Not backed up on purpose (' + countItems(sorted.onPurpose) + ')'),
        $('<p/>').text("Secrets (keys, tokens, passwords), caches, links and Jupyter's own runtime files are never copied to Drive. Nothing needs to be done."),
        table(sorted.onPurpose, 'drive-sync-onpurpose'));
    }
    if (!$body.children().length) { $body.append($('<p/>').text('The last backup copied everything it should.')); }
    return $body;
  }

  function showSkipped() {
    var st = state.status || {};
    var summary = st.last_push ? (st.last_push.summary || st.last_push) : null;
    dialog.modal({ title: 'What the backup left out', body: leftOutBody(summary), buttons: { Close: {} } });
  }

  function showStatus() {
    var st = state.status || {};
    var $body = $('<div class="drive-sync-status-body"/>');
    $body.append($('<p/>').text(st.connected ? 'Connected as ' + (st.account || 'your Google account') + '.'
                                             : 'Google Drive is not connected yet.'));
    var when = finishedAt(st.last_push);
    if (state.job) {
      $body.append($('<p/>').text(progressText(progress(state.job))));
    } else if (when) {
      $body.append($('<p/>').text('Last synced ' + timeAgo(when) + '.'));
    }
    var summary = st.last_push ? (st.last_push.summary || st.last_push) : null;
    if (summary && ((summary.skipped || []).length || (summary.failed || []).length)) {
      $body.append(leftOutBody(summary));
    }
    var buttons = { Close: {} };
    if (st.connected) {
      buttons.Disconnect = { 'class': 'btn-danger', click: confirmDisconnect };
      buttons['Switch Google account…'] = { click: switchAccount };
      buttons['Restore…'] = { click: restoreAll };
      buttons['Sync now'] = { 'class': 'btn-primary', click: syncNow };
    } else {
      buttons['Connect Google Drive'] = { 'class': 'btn-primary', click: function () { connect(); } };
    }
    dialog.modal({ title: 'Google Drive backup', body: $body, buttons: buttons });
  }

  function prompt(st) {
    var folder = st.folder || 'home/<your username>';
    var $body = $('<div class="drive-sync-prompt"/>');
    $body.append($('<p/>').append('Your notebooks and files in your home folder will be copied into a folder named ',
      $('<strong/>').text(folder), ' in your own Google Drive, so your work stays yours after the course ends.'));
    $body.append($('<ul/>').append(
      $('<li/>').text('Backups run when you press “Sync now” (and nightly, if your hub schedules it). Nothing is duplicated.'),
      $('<li/>').text('Not copied: caches and environments (.cache, node_modules, .venv, …) and secrets such as .ssh.'),
      $('<li/>').text('This app can see only the files it creates in your Drive.')));
    var remember = function (choice) { call('POST', ['prompt'], { choice: choice }); };
    dialog.modal({
      title: 'Back up your home folder to Google Drive?',
      body: $body,
      buttons: {
        "Don't ask again": { click: function () { remember('never'); } },
        'Not now': { click: function () { remember('not-now'); } },
        'Connect Google Drive': { 'class': 'btn-primary', click: function () { connect(); } }
      }
    });
  }

  // The "Google Drive" menu: a Bootstrap dropdown beside the Sync now button.
  function makeMenu() {
    var item = function (cls, label, fn) {
      return $('<li/>').append($('<a href="#"/>').addClass(cls).text(label).on('click', function (e) {
        e.preventDefault();
        if ($(this).closest('li').hasClass('disabled')) { return; }
        fn();
      }));
    };
    var $group = $('<span class="btn-group drive-sync-menu"/>');
    var $toggle = $('<button type="button" id="drive-sync-menu-button" class="btn btn-default btn-xs dropdown-toggle" data-toggle="dropdown"/>')
      .attr('title', 'Google Drive backup: sync, restore, switch account, disconnect')
      .append('Google Drive ', $('<span class="caret"/>'));
    $menu = $('<ul class="dropdown-menu dropdown-menu-right" id="drive-sync-menu"/>').append(
      item('drive-sync-menu-sync', 'Sync now', onButton),
      item('drive-sync-menu-restore', 'Restore…', restoreAll),
      $('<li class="divider" role="separator"/>'),
      item('drive-sync-menu-connect', 'Connect Google Drive', function () { connect(); }),
      item('drive-sync-menu-switch', 'Switch Google account…', switchAccount),
      item('drive-sync-menu-disconnect', 'Disconnect', confirmDisconnect),
      $('<li class="divider" role="separator"/>'),
      item('drive-sync-menu-status', 'Backup status…', showStatus));
    return $group.append($toggle, $menu);
  }

  function load_ipython_extension() {
    $('<link/>').attr({ rel: 'stylesheet', type: 'text/css', href: utils.url_path_join(baseUrl, 'nbextensions/jupyter_drive_sync/main.css') }).appendTo('head');
    $widget = $('<span id="drive-sync-widget" class="drive-sync-widget"/>').hide();
    $button = $('<button type="button" id="drive-sync-button" class="btn btn-default btn-xs"/>')
      .attr('title', 'Back up your home folder to Google Drive now').text('Sync now').on('click', onButton);
    $text = $('<a href="#" class="drive-sync-text"/>').on('click', function (e) { e.preventDefault(); showStatus(); });
    $link = $('<a class="drive-sync-link" target="_blank" rel="noopener noreferrer"/>').text('Open in Drive').hide();
    $skipped = $('<a href="#" class="drive-sync-skipped"/>').hide().on('click', function (e) { e.preventDefault(); showSkipped(); });
    $widget.append($text, ' ', $link, ' ', $skipped, ' ', $button, ' ', makeMenu());
    $('#notebook_toolbar .tree-buttons > .pull-right').first().prepend($widget);
    refresh().then(function (st) { if (st && st.prompt && st.configured !== false) { prompt(st); } });
    setInterval(function () { if (!state.job) { refresh(); } }, 30000);
  }

  return { load_ipython_extension: load_ipython_extension };
});
