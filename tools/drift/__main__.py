import sys

from tools.drift.cli import main

sys.exit(main())
