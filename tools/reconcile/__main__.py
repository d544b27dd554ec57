import sys

from tools.reconcile.cli import main

sys.exit(main())
