"""The model-based lifecycle test of push and restore (issue 13) and the regressions it found."""
