import sys

from tools.scan_existing.cli import main

sys.exit(main())
