"""A throwaway Kafka broker (KRaft, combined broker+controller) for tests and benchmarks.

The distribution is the artifact cache's ``kafka/4.3.1/kafka_2.13-4.3.1.tgz`` (``make
artifacts`` fills it), or ``$STACKYARD_KAFKA_ARTIFACT`` (a .tgz), or an unpacked tree at
``$STACKYARD_KAFKA_HOME``. ``start()`` formats a temporary log directory, runs
``kafka.Kafka`` on free ports of 127.0.0.1 and waits until it answers; ``stop()``/``start()``
again keep the data (a broker restart), ``destroy()`` removes everything.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from stackyard.testing.pgcluster import free_port, wait_for_port

VERSION = "4.3.1"
TOP = f"kafka_2.13-{VERSION}"
LOG4J2 = """Configuration:
  status: warn
  Appenders:
    Console: {name: STDOUT, PatternLayout: {pattern: "[%d] %p %m (%c)%n"}}
  Loggers:
    Root: {level: WARN, AppenderRef: [{ref: STDOUT}]}
"""


SCRAM = "SCRAM-SHA-512"
SCRAM_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"


class KafkaNotFound(RuntimeError):
    pass


def artifact() -> Path:
    cache = os.environ.get("STACKYARD_CACHE") or str(Path.home() / ".cache" / "stackyard")
    path = os.environ.get("STACKYARD_KAFKA_ARTIFACT") or (
        f"{cache}/artifacts/kafka/{VERSION}/{TOP}.tgz"
    )
    return Path(path)


def kafka_home(workdir: Path) -> Path:
    """An unpacked distribution: $STACKYARD_KAFKA_HOME, or the artifact unpacked in workdir."""
    if os.environ.get("STACKYARD_KAFKA_HOME"):
        home = Path(os.environ["STACKYARD_KAFKA_HOME"])
    else:
        tgz = artifact()
        if not tgz.exists():
            raise KafkaNotFound(f"no Kafka distribution at {tgz}: run `make artifacts`")
        with tarfile.open(tgz) as tar:
            tar.extractall(workdir, filter="data")
        home = workdir / TOP
    if not list((home / "libs").glob("kafka_2.13-*.jar")):
        raise KafkaNotFound(f"{home}/libs has no Kafka jars")
    if shutil.which("java") is None:
        raise KafkaNotFound("no java on PATH (install default-jre-headless)")
    return home


@dataclass
class Broker:
    home: Path
    root: Path
    port: int
    controller_port: int
    cluster_id: str = field(default_factory=lambda: _random_id())
    proc: subprocess.Popen | None = None
    # SCRAM-SHA-512 users (name -> password; the first is the brokers' own) and a TLS
    # certificate and key for 127.0.0.1 (PEM; the certificate is its own CA): the client
    # listener is SASL_SSL, SSL or SASL_PLAINTEXT accordingly, else PLAINTEXT
    scram: dict[str, str] = field(default_factory=dict)
    tls: tuple[Path, Path] | None = None

    @property
    def protocol(self) -> str:
        return ("SASL_" if self.scram else "") + ("SSL" if self.tls else "PLAINTEXT")

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _java(self, main: str, *args: str) -> list[str]:
        return ["java", "-cp", f"{self.home}/libs/*", main, *args]

    def configure(self) -> None:
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"{self.protocol}://127.0.0.1:{self.port},"
            f"CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"{self.protocol}://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": self.protocol,
            "listener.security.protocol.map": f"{self.protocol}:{self.protocol},"
            "CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.root / "data"),
            "num.partitions": "3",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
        }
        props.update(self._security())
        text = "".join(f"{k}={v}\n" for k, v in props.items())
        (self.root / "server.properties").write_text(text)
        (self.root / "log4j2.yaml").write_text(LOG4J2)
        subprocess.run(  # noqa: S603
            self._java(
                "kafka.tools.StorageTool",
                "format",
                "-t",
                self.cluster_id,
                "-c",
                str(self.root / "server.properties"),
                *(
                    arg
                    for name, password in self.scram.items()
                    for arg in ("--add-scram", f"{SCRAM}=[name={name},password={password}]")
                ),
            ),
            check=True,
            capture_output=True,
            text=True,
        )

    def _security(self) -> dict[str, str]:
        props = {}
        if self.tls:
            keystore = self.root / "keystore.pem"  # Kafka's PEM keystore: key, then chain
            keystore.write_text(self.tls[1].read_text() + self.tls[0].read_text())
            props.update({
                "ssl.keystore.type": "PEM", "ssl.keystore.location": str(keystore),
                "ssl.truststore.type": "PEM", "ssl.truststore.location": str(self.tls[0]),
            })  # fmt: skip
        if self.scram:
            name, password = next(iter(self.scram.items()))
            key = f"listener.name.{self.protocol.lower()}.{SCRAM.lower()}.sasl.jaas.config"
            props.update({
                "sasl.enabled.mechanisms": SCRAM,
                "sasl.mechanism.inter.broker.protocol": SCRAM,
                key: f'{SCRAM_MODULE} required username="{name}" password="{password}";',
            })  # fmt: skip
        return props

    def start(self, timeout: float = 60) -> None:
        cmd = [
            "java", "-Xmx512m", "-Xms128m",
            f"-Dkafka.logs.dir={self.root}",
            f"-Dlog4j2.configurationFile={self.root / 'log4j2.yaml'}",
            "-cp", f"{self.home}/libs/*", "kafka.Kafka", str(self.root / "server.properties"),
        ]  # fmt: skip
        log = open(self.root / "broker.log", "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        log.close()
        try:
            wait_for_port("127.0.0.1", self.port, timeout=timeout)
        except OSError as err:
            self.stop()
            log_text = (self.root / "broker.log").read_text()
            raise RuntimeError(f"Kafka did not start: {log_text}") from err
        time.sleep(0.5)

    def stop(self, kill: bool = False) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def _random_id() -> str:
    """A cluster id as Kafka's ``random-uuid`` makes them: never starting with "-", which
    the storage tool would take for an option (one id in 64 did, failing the broker's start)."""
    import base64

    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def start(scram: dict[str, str] | None = None, tls: tuple[Path, Path] | None = None) -> Broker:
    root = Path(tempfile.mkdtemp(prefix="stackyard-kafka-"))
    try:
        ports = free_port(), free_port()
        broker = Broker(kafka_home(root), root, *ports, scram=scram or {}, tls=tls)
        broker.configure()
        broker.start()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return broker
