"""``python -m hvsim``: see :mod:`hvsim.cli`."""
import sys

from hvsim.cli import main

sys.exit(main())
