"""Scheduled drift check: CloudFormation drift detection on every stack of one environment,
reported as Markdown (the workflow's job summary). `python -m tools.drift --env prod`."""
