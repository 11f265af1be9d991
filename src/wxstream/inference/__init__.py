"""Streaming inference: per-station windows, batching, Ray actors and the Kafka loop."""
