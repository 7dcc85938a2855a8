"""Cluster-wide rate limits, concurrency limits and budgets, checked in one Redis script."""
