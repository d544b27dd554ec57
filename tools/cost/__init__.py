"""Monthly cost of each environment, offline: the synthesized templates decide what exists and
how it is configured, the usage model (``infra.config.UsageConfig``) how much it is used, and
``prices.csv`` what each unit costs. ``python -m tools.cost`` prints it; the review report
shows what a change moves."""
