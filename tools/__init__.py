"""Developer tooling for the estate (not imported by app.py or the Lambda handlers).

The tools share the handlers' own rules (the naming rule in ``estate_handlers.layout``, the
hasher and pipeline the reconciliation runs, how S3 errors read): ``lambda/``, the Lambda asset
root, goes on the import path here, before any ``tools`` module imports from it.
"""
import sys
from pathlib import Path

_LAMBDA_ROOT = str(Path(__file__).resolve().parents[1] / "lambda")
if _LAMBDA_ROOT not in sys.path:
    sys.path.append(_LAMBDA_ROOT)
