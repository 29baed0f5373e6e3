"""``python -m tcmu_scst.config.saveconfig``: the converter's command line (:mod:`.cli`)."""

import sys

from .cli import main

sys.exit(main())
