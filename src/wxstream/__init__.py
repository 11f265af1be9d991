"""wxstream: streaming weather forecasting with Kafka and Ray."""

__version__ = "0.1.0"
