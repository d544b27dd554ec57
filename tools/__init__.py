"""Developer tooling for the estate (not imported by app.py or the Lambda handlers)."""
