"""Entry script for the PyInstaller bundle (PyInstaller needs a file, not a console-script entry point)."""

import sys

from sharedclient.app import main

if __name__ == "__main__":
    sys.exit(main())
