"""``python -m wsgikit``: the same as the ``wsgikit`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
