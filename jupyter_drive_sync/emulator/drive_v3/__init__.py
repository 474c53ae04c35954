"""Drive v3's resources, one module each, behind `emulator.drive_api.DriveApi` (the router).

Framework-free: every operation takes a `wire.Request` and answers a `wire.Response`, so a
top-level call, a batch part and an upload end up in the same code.
"""
