"""aiokafka client options from a service's ``kafka_*`` settings (the capture apps'
``DENSITY_KAFKA_*``, the sinks' ``SINK_KAFKA_*``): bootstrap servers, security protocol,
SASL and a CA file for TLS."""

from __future__ import annotations

from typing import Any


def kafka_options(s: Any, client_id: str) -> dict[str, Any]:
    """Options for AIOKafkaProducer/AIOKafkaConsumer; ``s`` has the ``kafka_*`` fields."""
    options: dict[str, Any] = {
        "bootstrap_servers": list(s.kafka_bootstrap),
        "security_protocol": s.kafka_security_protocol,
        "client_id": client_id,
    }
    if s.kafka_sasl_mechanism:
        options.update(
            sasl_mechanism=s.kafka_sasl_mechanism,
            sasl_plain_username=s.kafka_sasl_username,
            sasl_plain_password=s.kafka_sasl_password,
        )
    if s.kafka_ssl_cafile:
        from aiokafka.helpers import create_ssl_context

        options["ssl_context"] = create_ssl_context(cafile=s.kafka_ssl_cafile)
    return options
