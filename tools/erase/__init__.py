"""Right to erasure for user content (``python -m tools.erase``); see ``cli``."""
