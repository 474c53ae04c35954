"""The server's traits reach its pushes: `DriveSyncApp.upload_order` and `write_rate` end up in
the PushOptions that every "Sync now" and autosave push is built from (core/options.push_options)."""

from __future__ import annotations

import pytest
from traitlets import TraitError

from jupyter_drive_sync.core.options import PATH_ORDER, WORK_FIRST, push_options
from jupyter_drive_sync.server.app import DriveSyncApp


def options_of(tmp_path, **traits):
    app = DriveSyncApp(home_dir=str(tmp_path), **traits)
    return push_options(app.build_sync_settings())


def test_defaults_are_work_first_and_googles_rate(tmp_path):
    o = options_of(tmp_path)
    assert (o.order, o.write_rate) == (WORK_FIRST, None)  # None: Google's documented 3/s (drive/pacing)


def test_traits_reach_the_push(tmp_path):
    o = options_of(tmp_path, upload_order=PATH_ORDER, write_rate=1.5)
    assert (o.order, o.write_rate) == (PATH_ORDER, 1.5)


def test_an_unknown_order_is_refused_by_the_trait(tmp_path):
    with pytest.raises(TraitError):
        DriveSyncApp(home_dir=str(tmp_path), upload_order="size")
    for name in ("upload_order", "write_rate"):
        assert DriveSyncApp.class_traits()[name].help  # documented
