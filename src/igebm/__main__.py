"""`python -m igebm ...` runs the `igebm` command (also what torchrun launches)."""

import sys

from igebm.cli import main

sys.exit(main())
