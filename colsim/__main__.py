"""Allow ``python -m colsim``."""

import sys

from colsim.cli import main

sys.exit(main())
