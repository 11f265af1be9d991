"""The thread that follows the control topic for ``serve`` (its own consumer, read
from the beginning) and hands every alias state to the loop through a queue."""

from __future__ import annotations

import logging
import queue
import threading

from wxstream.errors import KafkaError
from wxstream.kafka.control_topic import ControlReader
from wxstream.messages.alias_state import AliasState
from wxstream.settings import KafkaSettings

logger = logging.getLogger(__name__)

_RETRY_S = 1.0


class AliasWatcher:
    """Reads the control topic on a daemon thread into :attr:`states`.

    Args:
        settings: where Kafka is and the control topic's name.
        poll_timeout_s: longest wait of one read (also how soon :meth:`close` ends it).

    Raises:
        TopicMissingError: the control topic does not exist.
    """

    def __init__(self, settings: KafkaSettings, poll_timeout_s: float = 0.5) -> None:
        self.states: queue.Queue[AliasState] = queue.Queue()
        self._reader = ControlReader(settings)
        self._poll_timeout_s = poll_timeout_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alias-watcher", daemon=True)

    def start(self) -> AliasWatcher:
        """Start the reading thread."""
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    states = self._reader.poll(self._poll_timeout_s)
                except KafkaError as exc:
                    # The service keeps serving what it serves; moves wait for Kafka.
                    logger.warning("reading the control topic failed (%s); retrying", exc)
                    self._stop.wait(_RETRY_S)
                    continue
                for state in states:
                    self.states.put(state)
        finally:
            self._reader.close()

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop reading and release the consumer."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
