"""Modules the test folders share: `helpers` (homes, the Drive tree, the server over HTTP) and
`server_fixtures` (a Jupyter server wired to the test's emulator). The emulator fixtures
themselves come from the `jupyter_drive_sync.emulator.pytest_plugin` plugin."""
