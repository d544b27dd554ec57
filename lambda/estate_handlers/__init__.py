"""Lambda handlers of the storage estate.

Packaged as one asset (the `lambda/` folder) so the handlers share the dedup-index schema and
the estate's names (`layout.py`, which `infra/config/layout.py` imports too); each function names its
own entry point (`estate_handlers.<module>.handler`). What the handlers import beyond the
standard library (Powertools for AWS Lambda (Python), the AWS SDK; the renditions function's image
libraries) comes in layers the estate builds from `requirements.txt` and
`requirements-renditions.txt` here (`infra/constructs/python_layer.py`), the releases the tests run.
"""
