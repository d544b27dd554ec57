"""Lambda handlers of the storage estate.

Packaged as one asset (the `lambda/` folder) so the handlers share the dedup-index
schema; each function names its own entry point (`estate_handlers.<module>.handler`).
Only the Lambda runtime's boto3/botocore are imported: no layer, no bundling step.
"""
