"""Building and reading MIME messages with the standard library's ``email`` package."""
