"""``python -m nnvm_bridge`` runs the ``nnvm-bridge`` command line."""
import sys

from .cli import main

sys.exit(main())
