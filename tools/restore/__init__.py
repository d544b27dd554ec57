"""Point-in-time restore of a prefix of a versioned S3 bucket (``python -m tools.restore``).

Layers, each testable on its own:
- ``listing``: stream ``ListObjectVersions`` key by key (memory flat in the number of versions);
- ``plan``: decide per key what restoring to ``--at`` means (copy, delete marker, nothing);
- ``copier``: carry out one decision idempotently and verify it by SHA-256;
- ``batch``: the same plan as an S3 Batch Operations job, for prefixes too big for one machine;
- ``cli``: arguments, confirmation, progress, workers, the JSON report, exit codes.
"""
