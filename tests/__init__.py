"""The test suite, a package so its shared modules import as `tests.support....`."""
