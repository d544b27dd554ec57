import sys

from tools.restore.cli import main

sys.exit(main())
