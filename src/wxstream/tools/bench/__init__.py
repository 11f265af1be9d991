"""``wxstream bench``: throughput, latency, memory, the one-at-a-time baseline and the
cost of exactly-once, measured end to end through a real broker."""
