import sys

from tools.erase.cli import main

sys.exit(main())
