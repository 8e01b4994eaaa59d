"""`python -m mechdsl ...`: the `mechdsl` command (editors start `python -m mechdsl lsp`)."""

import sys

from mechdsl.cli.entry import main

if __name__ == "__main__":  # a spawned worker process imports this module too: it must not run
    sys.exit(main())
