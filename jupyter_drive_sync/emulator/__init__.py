"""A faithful local stand-in for Google Drive v3 and Google's OAuth 2.0 endpoints.

The unmodified google-api-python-client, google-auth and google-auth-oauthlib talk to it over
HTTP. It serves the demo, the tests (through `pytest_plugin`) and the benchmarks.

Parts, lowest first: `settings`, `wire` (framework-free requests and Google's error envelope),
`records`/`blobs`/`store` (Drive's contents, on disk), `accounts` (OAuth state), `faults`,
`context` (the long-lived parts together); `drive_v3/` and `drive_api` (Drive semantics),
`bodies`/`resumable`/`uploads` and `batch` (how calls arrive); `web`, `oauth`, `admin` and
`server` (the tornado shell). It imports no client code (`sample` excepted: it connects a
home to an emulator account).
"""
