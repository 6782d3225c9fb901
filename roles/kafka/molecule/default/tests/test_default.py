"""Over SASL_SSL (TLS, SCRAM-SHA-512): a message produced on one node is consumed on the
other and survives a restart of both; wrong passwords, plaintext clients and clients that do
not trust the CA are refused."""

import shlex
import uuid

import pytest
import testinfra

JAVA = "java -cp '/opt/kafka/kafka_2.13-4.3.1/libs/*'"
NODE1, NODE2 = (testinfra.get_host(f"docker://mol-kafka-{i}") for i in (1, 2))
TOOLS = "org.apache.kafka.tools"
# fail in seconds, not after the tools' default minute
QUICK = {"request.timeout.ms": "5000", "default.api.timeout.ms": "10000"}
SYSTEM_CAS = "/etc/ssl/certs/ca-certificates.crt"


def client_config(host, name: str, **settings: str) -> str:
    """Write a client properties file on the host; return its path."""
    path = f"/root/{name}.properties"
    text = "".join(f"{k}={v}\n" for k, v in settings.items())
    host.run_expect([0], f"printf %s {shlex.quote(text)} > {path}")
    return path


def secure(host, user: str = "verify", password: str = "molecule-verify-secret", **extra) -> str:
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{user}" password="{password}";'
    )
    return client_config(
        host,
        f"{user}-{uuid.uuid4().hex[:6]}",
        **{
            "security.protocol": "SASL_SSL",
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": "/etc/kafka/tls/ca.pem",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.jaas.config": jaas,
            **extra,
        },
    )


def produce(host, bootstrap: str, topic: str, message: str) -> None:
    host.run_expect(
        [0],
        f"echo {message} | {JAVA} {TOOLS}.ConsoleProducer --bootstrap-server {bootstrap} "
        f"--topic {topic} --producer.config {secure(host)} --producer-property acks=all",
    )


def consume(host, bootstrap: str, topic: str) -> list[str]:
    out = host.run_expect(
        [0],
        f"{JAVA} {TOOLS}.consumer.ConsoleConsumer --bootstrap-server {bootstrap} "
        f"--topic {topic} --from-beginning --timeout-ms 20000 --consumer.config {secure(host)} "
        f"--group verify-{uuid.uuid4().hex[:8]}",
    )
    return out.stdout.split()


def list_topics(host, config: str):
    return host.run(
        f"{JAVA} {TOOLS}.TopicCommand --bootstrap-server mol-kafka-1:9092 "
        f"--command-config {config} --list"
    )


def test_the_topic_is_declared_with_its_replication_and_configs():
    out = NODE2.check_output(
        f"{JAVA} {TOOLS}.TopicCommand --bootstrap-server mol-kafka-1:9092 "
        f"--command-config {secure(NODE2)} --describe --topic roundtrip"
    )
    assert "PartitionCount: 2" in out and "ReplicationFactor: 2" in out
    assert "min.insync.replicas=1" in out and "retention.ms=86400000" in out


def test_the_broker_serves_a_certificate_for_its_name_signed_by_the_ca():
    out = NODE2.run_expect(
        [0],
        "openssl s_client -connect mol-kafka-1:9092 -CAfile /etc/kafka/tls/ca.pem "
        "-verify_hostname mol-kafka-1 -verify_return_error < /dev/null",
    )
    assert "Verify return code: 0 (ok)" in out.stdout


def refused_config(host, kind: str) -> str:
    if kind == "plaintext":
        return client_config(host, "plain", **{"security.protocol": "PLAINTEXT", **QUICK})
    if kind == "untrusted-ca":  # the system CAs, not the cluster's
        return secure(host, **{"ssl.truststore.location": SYSTEM_CAS, **QUICK})
    wrong = {"wrong-password": {"password": "not-the-password"}, "unknown-user": {"user": "nobody"}}
    return secure(host, **wrong[kind], **QUICK)


@pytest.mark.parametrize("kind", ["wrong-password", "unknown-user", "plaintext", "untrusted-ca"])
def test_clients_without_the_right_credentials_or_trust_are_refused(kind):
    result = list_topics(NODE2, refused_config(NODE2, kind))
    assert result.rc != 0 and "roundtrip" not in result.stdout


def test_a_message_produced_on_one_node_is_consumed_on_the_other_and_survives_a_restart():
    assert "roundtrip" in list_topics(NODE2, secure(NODE2)).stdout
    message = f"hello-{uuid.uuid4().hex}"
    produce(NODE1, "mol-kafka-1:9092", "roundtrip", message)
    assert message in consume(NODE2, "mol-kafka-2:9092", "roundtrip")
    for node in (NODE2, NODE1):
        node.run_expect([0], "systemctl restart kafka")
    for node, port_host in ((NODE1, "mol-kafka-1"), (NODE2, "mol-kafka-2")):
        node.run_expect(
            [0], f"timeout 90 bash -c 'until echo > /dev/tcp/{port_host}/9092; do sleep 1; done'"
        )
    assert message in consume(NODE2, "mol-kafka-2:9092", "roundtrip")


def test_secrets_are_readable_by_root_and_the_broker_only():
    for path, mode in (
        ("/etc/kafka/server.properties", 0o640),
        ("/etc/kafka/client.properties", 0o600),
        ("/etc/kafka/tls/server.pem", 0o640),
    ):
        f = NODE1.file(path)
        assert f.mode == mode and f.user == "root", path
