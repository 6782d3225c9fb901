"""A message produced on one node is consumed on the other, and survives a restart of both."""

import uuid

import testinfra

JAVA = "java -cp '/opt/kafka/kafka_2.13-4.3.1/libs/*'"
NODE1, NODE2 = (testinfra.get_host(f"docker://mol-kafka-{i}") for i in (1, 2))


def produce(host, bootstrap: str, topic: str, message: str) -> None:
    host.run_expect(
        [0],
        f"echo {message} | {JAVA} org.apache.kafka.tools.ConsoleProducer "
        f"--bootstrap-server {bootstrap} --topic {topic} --producer-property acks=all",
    )


def consume(host, bootstrap: str, topic: str) -> list[str]:
    out = host.run_expect(
        [0],
        f"{JAVA} org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server {bootstrap} "
        f"--topic {topic} --from-beginning --timeout-ms 20000 "
        f"--group verify-{uuid.uuid4().hex[:8]}",
    )
    return out.stdout.split()


def test_the_topic_is_declared_with_its_replication_and_configs():
    out = NODE2.check_output(
        f"{JAVA} org.apache.kafka.tools.TopicCommand --bootstrap-server mol-kafka-1:9092 "
        "--describe --topic roundtrip"
    )
    assert "PartitionCount: 2" in out and "ReplicationFactor: 2" in out
    assert "min.insync.replicas=1" in out and "retention.ms=86400000" in out


def test_a_message_produced_on_one_node_is_consumed_on_the_other_and_survives_a_restart():
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
