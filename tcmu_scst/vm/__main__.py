"""``python -m tcmu_scst.vm``: same as the ``tcmu-scst-vm`` console script."""

import sys

from .cli import main

sys.exit(main())
