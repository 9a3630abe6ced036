"""`python -m tinygrad_conv explain ...`: see tinygrad_conv/cli.py."""
import sys

from .cli import main

sys.exit(main())
