"""``python -m fastmlp``: the fastmlp command line (see fastmlp.cli)."""

import sys

from fastmlp.cli import main

sys.exit(main())
