"""Developer tooling for the estate (not imported by app.py or the Lambda handlers).

The tools share the handlers' own rules (the naming rule in ``estate_handlers.layout``, the
hasher and pipeline the reconciliation runs, how S3 errors read): importing the ``infra``
package puts ``lambda/``, the Lambda asset root, on the import path, before any ``tools``
module imports from it.
"""
import infra  # noqa: F401  (puts lambda/ on the import path)
