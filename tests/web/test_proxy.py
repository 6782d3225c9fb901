"""X-Forwarded-For / X-Real-IP are believed from trusted peers only."""

import pytest

from stackyard.web.proxy import TrustedProxies, parse_networks


def client_of(peer, headers, trusted="127.0.0.1,::1,10.0.0.0/8"):
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        return []

    environ = {"REMOTE_ADDR": peer, **headers}
    TrustedProxies(app, trusted)(environ, lambda *a: None)
    return seen["REMOTE_ADDR"], seen["stackyard.peer_addr"]


def test_trusted_peer_passes_the_client_on():
    assert client_of("127.0.0.1", {"HTTP_X_FORWARDED_FOR": "203.0.113.7"}) == (
        "203.0.113.7",
        "127.0.0.1",
    )
    assert client_of("::1", {"HTTP_X_REAL_IP": "2001:db8::1"})[0] == "2001:db8::1"


def test_the_right_most_untrusted_hop_is_the_client():
    headers = {"HTTP_X_FORWARDED_FOR": "198.51.100.1, 203.0.113.7, 10.1.2.3"}
    assert client_of("10.0.0.5", headers)[0] == "203.0.113.7"


def test_untrusted_peer_cannot_spoof():
    headers = {"HTTP_X_FORWARDED_FOR": "1.2.3.4", "HTTP_X_REAL_IP": "1.2.3.4"}
    assert client_of("192.0.2.9", headers) == ("192.0.2.9", "192.0.2.9")


def test_malformed_headers_keep_the_peer():
    assert client_of("127.0.0.1", {"HTTP_X_FORWARDED_FOR": "not-an-ip"})[0] == "127.0.0.1"
    assert client_of("127.0.0.1", {"HTTP_X_REAL_IP": "x"})[0] == "127.0.0.1"


def test_parse_networks_names_a_bad_entry():
    assert len(parse_networks("127.0.0.1, ::1 ,10.0.0.0/8,")) == 3
    with pytest.raises(ValueError, match="bogus"):
        parse_networks("127.0.0.1,bogus")
