"""The minimal ACLs of the inference service (docs/security.md), granted through the
admin API: used by ``wxstream kafka start --security sasl_ssl`` for its service user
and by the tests of secured clusters."""

from __future__ import annotations

from confluent_kafka.admin._acl import AclBinding, AclBindingFilter, AclOperation, AclPermissionType
from confluent_kafka.admin._resource import ResourcePatternType, ResourceType

from wxstream.kafka.clients import kafka_errors, make_admin
from wxstream.settings import KafkaSettings

CLUSTER_RESOURCE = "kafka-cluster"


def service_acls(
    principal: str, kafka: KafkaSettings, group_id: str, *, transactional_prefix: str | None = None
) -> list[AclBinding]:
    """What ``serve`` needs as ``principal`` (``User:NAME``): READ on the features topic
    and the group, WRITE on the predictions, dead-letter, anomalies, shadow and
    verification topics, READ on the predictions, shadow and verification topics (the
    live skill is rebuilt from them),
    WRITE/DESCRIBE on transactional ids starting with ``transactional_prefix`` (default:
    the group id, as the default id is ``<group>-<host>-<index>``), IDEMPOTENT_WRITE on
    the cluster, and READ on the control topic (alias moves; read without a group)."""
    prefix = transactional_prefix if transactional_prefix is not None else group_id

    def allow(
        kind: ResourceType,
        name: str,
        operation: AclOperation,
        pattern: ResourcePatternType = ResourcePatternType.LITERAL,
    ) -> AclBinding:
        return AclBinding(kind, name, pattern, principal, "*", operation, AclPermissionType.ALLOW)

    topic, group, txn = ResourceType.TOPIC, ResourceType.GROUP, ResourceType.TRANSACTIONAL_ID
    return [
        allow(topic, kafka.features_topic, AclOperation.READ),
        allow(topic, kafka.features_topic, AclOperation.DESCRIBE),
        allow(group, group_id, AclOperation.READ),
        allow(topic, kafka.predictions_topic, AclOperation.WRITE),
        allow(topic, kafka.predictions_topic, AclOperation.DESCRIBE),
        allow(topic, kafka.dlq_topic, AclOperation.WRITE),
        allow(topic, kafka.dlq_topic, AclOperation.DESCRIBE),
        allow(topic, kafka.anomalies_topic, AclOperation.WRITE),
        allow(topic, kafka.anomalies_topic, AclOperation.DESCRIBE),
        allow(topic, kafka.shadow_topic, AclOperation.WRITE),
        allow(topic, kafka.shadow_topic, AclOperation.DESCRIBE),
        allow(topic, kafka.verification_topic, AclOperation.WRITE),
        allow(topic, kafka.verification_topic, AclOperation.DESCRIBE),
        allow(topic, kafka.verification_topic, AclOperation.READ),
        allow(topic, kafka.predictions_topic, AclOperation.READ),
        allow(topic, kafka.shadow_topic, AclOperation.READ),
        allow(topic, kafka.control_topic, AclOperation.READ),
        allow(topic, kafka.control_topic, AclOperation.DESCRIBE),
        allow(txn, prefix, AclOperation.WRITE, ResourcePatternType.PREFIXED),
        allow(txn, prefix, AclOperation.DESCRIBE, ResourcePatternType.PREFIXED),
        allow(ResourceType.BROKER, CLUSTER_RESOURCE, AclOperation.IDEMPOTENT_WRITE),
    ]


def grant(admin: KafkaSettings, bindings: list[AclBinding]) -> None:
    """Create ``bindings`` as the (authorized) client of ``admin``; existing ones are kept."""
    client = make_admin(admin)
    futures = client.create_acls(bindings, request_timeout=admin.request_timeout_s)
    with kafka_errors(admin.bootstrap_servers, "creating ACLs"):
        for future in futures.values():
            future.result()


def revoke(admin: KafkaSettings, bindings: list[AclBinding]) -> None:
    """Delete ``bindings`` (each used as an exact filter)."""
    client = make_admin(admin)
    filters = [
        AclBindingFilter(
            b.restype,
            b.name,
            b.resource_pattern_type,
            b.principal,
            b.host,
            b.operation,
            b.permission_type,
        )
        for b in bindings
    ]
    futures = client.delete_acls(filters, request_timeout=admin.request_timeout_s)
    with kafka_errors(admin.bootstrap_servers, "deleting ACLs"):
        for future in futures.values():
            future.result()
