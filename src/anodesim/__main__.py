"""``python -m anodesim``: the command line (used by the sweep's worker processes)."""

import sys

from .cli import main

sys.exit(main())
