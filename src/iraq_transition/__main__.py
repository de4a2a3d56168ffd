"""``python -m iraq_transition``: the same as the ``iraq-transition`` command."""

import sys

from .cli import main

sys.exit(main())
