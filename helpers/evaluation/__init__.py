"""Evaluation: predictions, classification metrics, latency and training throughput."""
