"""Allow ``python -m sharedclient``."""

import multiprocessing
import sys

from sharedclient.app import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # the sync's helper process, in a frozen (PyInstaller) build
    sys.exit(main())
