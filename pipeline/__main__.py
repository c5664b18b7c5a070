"""``python -m pipeline ARGS`` runs the ``slices`` command line."""

import sys

from pipeline.cli import main

sys.exit(main())
