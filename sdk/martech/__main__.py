"""``python -m martech``."""

import sys

from martech.cli import main

sys.exit(main())
