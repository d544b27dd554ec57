"""Lambda handlers of the storage estate.

Packaged as one asset (the `lambda/` folder) so the handlers share the dedup-index schema and
the estate's names (`layout.py`, which `infra/config/layout.py` imports too); each function names its
own entry point (`estate_handlers.<module>.handler`). Besides the runtime's boto3/botocore, the
handlers import Powertools for AWS Lambda (Python), from the official layer (no bundling step).
"""
