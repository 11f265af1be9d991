"""Kafka: the embedded local broker, topic administration and client configuration.

- :mod:`wxstream.kafka.jars`: fetching the Apache Kafka jars with Maven, finding java.
- :mod:`wxstream.kafka.broker`: :class:`~wxstream.kafka.broker.LocalBroker`, the
  single-node KRaft broker behind ``wxstream kafka start|stop|status``.
- :mod:`wxstream.kafka.admin`: creating and checking topics, offsets and lag.
- :mod:`wxstream.kafka.clients`: producer/consumer/admin configuration and the
  translation of confluent-kafka errors into the wxstream error tree.
"""

from __future__ import annotations
