"""Allow ``python -m sharedclient``."""

import sys

from sharedclient.app import main

sys.exit(main())
