"""Behaviour of the common role on a converged host."""

import textwrap

import pytest

# Python is trusted to verify the server certificate when a TLS handshake with
# default settings succeeds; it fails with CERTIFICATE_VERIFY_FAILED otherwise.
TLS_HANDSHAKE = textwrap.dedent(
    """
    import socket, ssl, threading
    srv_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    srv_ctx.load_cert_chain("/root/pki/server.pem", "/root/pki/server.key")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    def serve():
        conn, _ = listener.accept()
        try:
            with srv_ctx.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(b"hello")
        except ssl.SSLError:
            pass
    threading.Thread(target=serve, daemon=True).start()
    client_ctx = ssl.create_default_context()
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with client_ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            print(tls.recv(5).decode())
    """
)


def test_extra_ca_is_trusted_by_openssl(host):
    result = host.run("openssl verify /root/pki/server.pem")
    assert result.rc == 0, result.stderr
    assert "OK" in result.stdout


def test_extra_ca_is_trusted_by_python_tls(host):
    result = host.run("python3 -c %s", TLS_HANDSHAKE)
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "hello"


def test_untrusted_certificate_is_still_rejected(host):
    # The trust store must not have been opened up wholesale: a self-signed cert stays untrusted.
    host.run_expect(
        [0],
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout /tmp/rogue.key -out /tmp/rogue.pem -days 1 -subj /CN=rogue",
    )
    assert host.run("openssl verify /tmp/rogue.pem").rc != 0


def test_timezone_is_applied(host):
    assert host.file("/etc/timezone").content_string.strip() == "Europe/Tallinn"
    assert host.run("date +%Z").stdout.strip() in {"EET", "EEST"}


@pytest.mark.parametrize("package", ["ca-certificates", "tzdata", "python3-venv", "jq"])
def test_packages_installed(host, package):
    assert host.package(package).is_installed


def test_service_account_is_unprivileged(host):
    user = host.user("stackyard")
    assert user.exists
    assert user.uid < 1000  # system account
    assert user.shell == "/usr/sbin/nologin"
    assert user.home == "/opt/stackyard"
    assert host.file("/opt/stackyard").user == "stackyard"


def test_venv_helper_installs_into_a_working_venv(host):
    result = host.run(
        "/opt/stackyard/venvs/probe/bin/python -c 'import six; print(six.__version__)'"
    )
    assert result.rc == 0, result.stderr
    assert host.file("/opt/stackyard/venvs/probe").user == "stackyard"
