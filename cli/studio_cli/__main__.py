"""`python -m studio_cli`: the same as the `studio` executable."""

import sys

from studio_cli.main import main

sys.exit(main())
