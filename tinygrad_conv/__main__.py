"""`python -m tinygrad_conv explain ...`: a thin entry point; the commands live with the pictures, in viz/cli.py."""
import sys

from viz.cli import main

sys.exit(main())
