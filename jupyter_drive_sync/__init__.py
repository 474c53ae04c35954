"""jupyter-drive-sync: back up a Jupyter home into the user's own Google Drive, by Drive ID."""

__version__ = "0.1.0"


def _jupyter_server_extension_points() -> list[dict]:
    """Jupyter Server finds the extension here; the app is imported only when loaded."""
    from .server.app import DriveSyncApp

    return [{"module": "jupyter_drive_sync", "app": DriveSyncApp}]
