"""The streaming service (``wxstream serve``): weather-features -> per-station windows ->
batches -> Ray inference actors -> weather-predictions, in Kafka transactions.

``core/`` holds the pure rules; the modules beside it are the thin IO around them.
"""
