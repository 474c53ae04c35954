// jupyter-drive-sync for the classic notebook (nbclassic) tree page: the same first-login
// prompt and "Sync now" button as the JupyterLab / Notebook 7 extension, in plain AMD JS.
// It talks to the same REST routes (drive-sync/status, push, push/<id>, prompt, auth/start).
define([
  'jquery',
  'base/js/utils',
  'base/js/dialog'
], function ($, utils, dialog) {
  'use strict';

  var CONNECTED_MESSAGE = 'drive-sync:connected';
  var baseUrl = utils.get_body_data('baseUrl') || '/';
  var state = { status: null, job: null, error: null, following: null };
  var $widget, $button, $text, $link, $skipped;

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
          if (xhr.status === 409 && data) { resolve(data); return; }
          reject({ status: xhr.status, body: data || {}, message: (data && (data.message || data.reason)) || xhr.statusText });
        }
      });
    });
  }

  // ---- words ---------------------------------------------------------------------------------

  // The server's error kinds (needs_reauth, drive_full, upload_cap, ...) → what we say.
  var KINDS = { needs_reauth: 'reconnect', not_connected: 'reconnect', drive_full: 'drive_full',
                upload_cap: 'daily_cap', already_running: 'busy', config: 'other' };

  function classify(raw) {
    if (!raw) { return null; }
    var code = typeof raw === 'string' ? raw : String(raw.kind || raw.error || '');
    if (KINDS[code]) { return KINDS[code]; }
    var text = (code + ' ' + (raw.message || '')).toLowerCase();
    if (/invalid_grant|revoked|reconnect/.test(text)) { return 'reconnect'; }
    if (/storagequotaexceeded|drive is full/.test(text)) { return 'drive_full'; }
    return 'other';
  }

  var ERROR_WORDS = {
    reconnect: 'Reconnect Google Drive: access was removed or expired.',
    drive_full: 'Your Google Drive is full: free up space, then press Sync now again.',
    daily_cap: "Google Drive's daily upload limit reached: the rest is backed up tomorrow.",
    busy: 'A backup is already running.',
    other: 'The backup did not finish.'
  };

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
    return {
      state: String(job.state || job.status || 'running').toLowerCase(),
      filesDone: p.files_done || 0, filesTotal: p.files_total || 0,
      bytesDone: p.bytes_done || 0, bytesTotal: p.bytes_total || 0,
      current: p.current_path || null
    };
  }

  function isFinished(s) {
    return ['done', 'failed', 'finished', 'succeeded', 'success', 'completed', 'error', 'errored'].indexOf(s) >= 0;
  }

  // ---- rendering ---------------------------------------------------------------------------------

  function render() {
    var st = state.status;
    if (!st || st.configured === false) { $widget.hide(); return; }
    $widget.show();
    $link.hide();
    $skipped.hide();
    $widget.attr('data-state', 'idle');
    if (state.job) {
      var p = progress(state.job);
      var pct = p.bytesTotal ? Math.floor(100 * p.bytesDone / p.bytesTotal)
        : (p.filesTotal ? Math.floor(100 * p.filesDone / p.filesTotal) : null);
      $text.text('Syncing' + (pct === null ? '' : ' ' + pct + '%') + ' · ' + p.filesDone + '/' + p.filesTotal + ' files');
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
      $text.text('Not backed up yet');
      $widget.attr('data-state', 'disconnected');
      return;
    }
    $button.text(kind === 'reconnect' ? 'Reconnect Google Drive' : 'Sync now');
    if (kind) {
      $text.text(ERROR_WORDS[kind] || ERROR_WORDS.other);
      $widget.attr('data-state', 'error');
    } else {
      var when = finishedAt(st.last_push);
      $text.text(when ? 'Synced ' + timeAgo(when) : 'Not synced yet');
      $widget.attr('data-state', when ? 'synced' : 'connected');
      var summary = st.last_push ? (st.last_push.summary || st.last_push) : null;
      var problems = summary ? (summary.skipped || []).concat(summary.failed || []) : [];
      if (problems.length) {
        $skipped.text(problems.length + (problems.length === 1 ? ' file' : ' files') + ' skipped').show();
        $skipped.data('problems', problems);
      }
    }
    if (st.root_folder_url) { $link.attr('href', st.root_folder_url).show(); }
  }

  function refresh() {
    return call('GET', ['status']).then(function (st) {
      state.status = st;
      if (st.connected && !st.needs_reauth && state.error === 'reconnect') { state.error = null; }
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

  function syncNow() {
    state.error = null;
    return call('POST', ['push'], {}).then(function (data) {
      if (!data.job) { state.error = classify(data) || 'other'; render(); return; }
      follow(data.job);
    }, function (err) {
      state.error = classify(err.body && (err.body.error || err.body)) || classify(err.message) || 'other';
      render();
    });
  }

  // Must run inside a click handler: browsers allow popups only during a user gesture.
  function connect() {
    var popup = window.open(url('auth', 'start'), 'drive-sync-consent', 'popup=yes,width=520,height=680');
    if (!popup) {
      window.location.href = url('auth', 'start');
      return;
    }
    var done = false;
    var finish = function () {
      if (done) { return; }
      done = true;
      window.removeEventListener('message', onMessage);
      refresh().then(function (st) { if (st && st.connected) { syncNow(); } });
    };
    var onMessage = function (event) {
      if (event.origin === window.location.origin && event.data && event.data.type === CONNECTED_MESSAGE) { finish(); }
    };
    window.addEventListener('message', onMessage);
    var grace = 3;
    var poll = function () {
      if (done) { return; }
      call('GET', ['status']).then(function (st) {
        if (st.connected && !st.needs_reauth) { finish(); return; }
        if (popup.closed && --grace <= 0) { window.removeEventListener('message', onMessage); return; }
        setTimeout(poll, 1500);
      }, function () { setTimeout(poll, 3000); });
    };
    setTimeout(poll, 1500);
  }

  function onButton() {
    var st = state.status;
    if (!st || !st.connected || st.needs_reauth || state.error === 'reconnect') { connect(); return; }
    syncNow();
  }

  function showSkipped() {
    var problems = $skipped.data('problems') || [];
    var $table = $('<table class="table table-condensed drive-sync-problems"/>');
    $table.append($('<tr/>').append($('<th/>').text('File'), $('<th/>').text('Why')));
    problems.forEach(function (p) {
      $table.append($('<tr/>').append($('<td/>').text(p.path || '(home)'), $('<td/>').text(p.reason || p.error || '')));
    });
    dialog.modal({ title: 'Files not backed up', body: $table, buttons: { Close: {} } });
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

  function load_ipython_extension() {
    $('<link/>').attr({ rel: 'stylesheet', type: 'text/css', href: utils.url_path_join(baseUrl, 'nbextensions/jupyter_drive_sync/main.css') }).appendTo('head');
    $widget = $('<span id="drive-sync-widget" class="drive-sync-widget"/>').hide();
    $button = $('<button type="button" id="drive-sync-button" class="btn btn-default btn-xs"/>')
      .attr('title', 'Back up your home folder to Google Drive now').text('Sync now').on('click', onButton);
    $text = $('<span class="drive-sync-text"/>');
    $link = $('<a class="drive-sync-link" target="_blank" rel="noopener noreferrer"/>').text('Open in Drive').hide();
    $skipped = $('<a href="#" class="drive-sync-skipped"/>').hide().on('click', function (e) { e.preventDefault(); showSkipped(); });
    $widget.append($text, ' ', $link, ' ', $skipped, ' ', $button);
    $('#notebook_toolbar .tree-buttons > .pull-right').first().prepend($widget);
    refresh().then(function (st) { if (st && st.prompt && st.configured !== false) { prompt(st); } });
    setInterval(function () { if (!state.job) { refresh(); } }, 30000);
  }

  return { load_ipython_extension: load_ipython_extension };
});
