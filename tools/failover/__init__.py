"""Move uploads between the regions' write paths (``make failover`` / ``make failback``)."""
