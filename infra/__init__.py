"""The CDK app's stacks, constructs and settings."""
import sys
from pathlib import Path

# The handlers' package (lambda/estate_handlers) holds what infra and the functions share (the
# prefix layout, tags, the upload policy's checks): on the path for every infra module, in
# whatever order they are imported.
_LAMBDA_ROOT = str(Path(__file__).resolve().parents[1] / "lambda")
if _LAMBDA_ROOT not in sys.path:
    sys.path.append(_LAMBDA_ROOT)
