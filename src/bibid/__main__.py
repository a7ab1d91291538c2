"""python -m bibid: the same as the `bibid` command."""

import sys

from bibid.cli import main

sys.exit(main())
