"""Client addresses behind a reverse proxy, honoured only from trusted peers.

``TrustedProxies`` wraps a WSGI app. When the peer (``REMOTE_ADDR``) is in the trusted
networks, the client is the right-most ``X-Forwarded-For`` address that is not itself a
trusted proxy (or ``X-Real-IP`` when there is no ``X-Forwarded-For``); ``REMOTE_ADDR``
becomes it and the peer is kept in ``stackyard.peer_addr``. From any other peer both
headers are ignored, so a client cannot choose the address that gets logged.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT_TRUSTED = "127.0.0.1,::1"


def parse_networks(spec: str | Iterable[str]) -> tuple[Network, ...]:
    """``"127.0.0.1, 10.0.0.0/8"`` (or a list) as networks; ValueError names a bad entry."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    networks = []
    for item in (i.strip() for i in items):
        if item:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(f"not an IP address or CIDR network: {item!r}") from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class TrustedProxies:
    def __init__(self, app: Callable[..., Any], trusted: str | Iterable[str] = DEFAULT_TRUSTED):
        self.app = app
        self.networks = parse_networks(trusted)

    def trusted(self, address: str | None) -> bool:
        ip = _address(address or "")
        return ip is not None and any(ip in net for net in self.networks)

    def client(self, environ: dict[str, Any]) -> str | None:
        forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")
        for hop in reversed([h for h in forwarded.split(",") if h.strip()]):
            ip = _address(hop)
            if ip is None:
                return None  # a malformed chain: keep the peer
            if not self.trusted(str(ip)):
                return str(ip)
        if forwarded:
            return str(_address(forwarded.split(",")[0]))
        real = _address(environ.get("HTTP_X_REAL_IP", ""))
        return str(real) if real is not None else None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        peer = environ.get("REMOTE_ADDR")
        environ["stackyard.peer_addr"] = peer
        if self.trusted(peer):
            client = self.client(environ)
            if client:
                environ["REMOTE_ADDR"] = client
        return self.app(environ, start_response)
