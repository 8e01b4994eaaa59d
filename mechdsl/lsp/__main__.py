"""`python -m mechdsl.lsp`: the language server over stdio (the same as `mechdsl lsp`)."""

import sys

from mechdsl.cli.entry import main

if __name__ == "__main__":  # a spawned derivation worker imports this module too: it must not serve
    sys.exit(main(["lsp", *sys.argv[1:]]))
