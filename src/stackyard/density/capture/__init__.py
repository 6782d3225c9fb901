"""Request/response capture: a WSGI middleware publishing one event per request to Kafka."""
