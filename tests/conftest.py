import sys
from pathlib import Path

# `lambda/` is the Lambda asset root, and a Python keyword: put it on the path, not in a package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lambda"))
