"""PostgreSQL connections of the TimescaleDB sink and ``migrate`` (psycopg2, ``SINK_PG_*``)."""

from __future__ import annotations

import psycopg2
import psycopg2.extensions

from stackyard.pipeline.config import Settings

# errors that mean "the server is not there right now": wait and try again
TRANSIENT = (psycopg2.OperationalError, psycopg2.InterfaceError)


def connect(settings: Settings, application: str) -> psycopg2.extensions.connection:
    return psycopg2.connect(
        host=settings.pg_host,
        port=settings.pg_port,
        dbname=settings.pg_database,
        user=settings.pg_user,
        password=settings.pg_password or None,
        sslmode=settings.pg_sslmode,
        connect_timeout=settings.pg_connect_timeout_s,
        application_name=application,
        keepalives=1,
        keepalives_idle=10,
        keepalives_interval=5,
        keepalives_count=3,
        options="-c statement_timeout=60000 -c lock_timeout=30000",
    )
