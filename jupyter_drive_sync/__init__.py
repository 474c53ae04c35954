"""jupyter-drive-sync: back up a Jupyter home into the user's own Google Drive, by Drive ID."""

__version__ = "0.1.0"
