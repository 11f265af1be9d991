"""The one exception tree of wxstream.

Every error raised on purpose by the project derives from :class:`WxstreamError`.
Third-party errors are translated at the boundary (``raise ... from exc``) so callers
only ever need to catch this tree. Each error carries an optional ``fix``: one line
telling an operator what to do, printed by the CLI under the message.
"""

from __future__ import annotations


class WxstreamError(Exception):
    """Root of all wxstream errors.

    Args:
        message: what went wrong, in the operator's words.
        fix: how to fix it (printed by the CLI as ``fix: ...``), or ``None``.
    """

    exit_code: int = 1

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return self.message


class ConfigError(WxstreamError):
    """Invalid configuration: a flag or environment variable has a value not allowed."""

    exit_code = 2


class DependencyMissingError(WxstreamError):
    """A required external program (java, mvn) is missing."""


class KafkaError(WxstreamError):
    """Base of Kafka-related failures."""


class BrokerError(KafkaError):
    """The local broker could not be fetched, formatted, started or stopped."""


class PortInUseError(BrokerError):
    """The port the local broker should listen on is already taken."""


class KafkaUnavailableError(KafkaError):
    """The bootstrap servers did not answer."""


class KafkaAccessError(KafkaError):
    """Kafka refused the client: TLS, authentication (SASL) or authorization (ACLs)."""


class TopicMissingError(KafkaError):
    """A topic the pipeline needs does not exist."""


class TransactionError(KafkaError):
    """A Kafka transaction failed (fenced, aborted or timed out)."""


class DataError(WxstreamError):
    """Observation data is missing or malformed."""


class ModelError(WxstreamError):
    """Base of model-directory failures."""


class ModelNotFoundError(ModelError):
    """The model directory does not exist."""


class ModelFormatError(ModelError):
    """A file in the model directory is missing, corrupt or inconsistent."""


class ModelVersionNotFoundError(ModelNotFoundError):
    """A model name exists but not the version or alias asked for."""


class IncompleteVersionError(ModelFormatError):
    """A model version lacks files or its files disagree with its id (a half-copied version)."""


class AliasMoveError(ModelError):
    """A promote or rollback cannot be done (unknown version, nothing to roll back to)."""


class UntrustedPickleError(ModelError):
    """A pickle holds objects outside the allowed scaler classes, or was not trusted."""


class RayUnavailableError(WxstreamError):
    """The Ray cluster could not be reached or an actor could not be created."""


class InferenceError(WxstreamError):
    """Inference failed on every actor that was tried."""


class DeliveryStalledError(TransactionError):
    """A delivery (one Kafka transaction) ran past ``--delivery-stall-timeout-s``.

    librdkafka can wait without end inside a transactional call; the service then exits
    with :attr:`exit_code` so that its supervisor starts it again.
    """

    exit_code = 75  # EX_TEMPFAIL (sysexits.h): a temporary failure, try again
