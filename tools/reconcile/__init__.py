"""After a failback: complete in the primary what the secondary Region took
(``python -m tools.reconcile``).

- ``engine``: per version, what is missing (batch replication, copy, scan, hash, render) and
  doing it through the real handlers, S3 Batch Replication and GuardDuty;
- ``cli``: arguments, the plan and audit summary, the JSON report, exit codes.
"""
import tools.cli  # noqa: F401 (puts lambda/ on the import path: the engine calls the handlers)
