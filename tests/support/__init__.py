"""Modules the test folders share: `helpers` (homes, the Drive tree, the server over HTTP),
`server_fixtures` (a Jupyter server wired to the test's emulator), `server_process` (starting
and stopping a server process, headless chromium), `command_line` (running the CLI, its homes
and client secrets) and `plan_rows` (rows and entries for planning tests). The emulator
fixtures themselves come from the `jupyter_drive_sync.emulator.pytest_plugin` plugin."""
