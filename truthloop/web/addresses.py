"""Which address a request came from, as the sign-in throttle counts it.

The socket's peer, unless that peer is a trusted reverse proxy (TRUTHLOOP_TRUSTED_PROXIES):
then `X-Forwarded-For`, read from the right, since each proxy appends the address it was
reached from and only the entries our own proxies appended can be believed; the first one
that is not a trusted proxy is the client. Anyone may send the header, so an untrusted peer's
is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address,
             proxies: Sequence[Network]) -> bool:
    return any(address in network for network in proxies)


def client_address(
    peer: str | None, forwarded_for: str | None, proxies: Sequence[Network]
) -> str | None:
    """The client's address in its canonical form, or None when the socket gives none."""
    peer_address = _parse(peer) if peer else None
    if peer_address is None:
        return peer
    if not proxies or not forwarded_for or not _trusted(peer_address, proxies):
        return str(peer_address)
    for entry in reversed(forwarded_for.split(",")):
        address = _parse(entry)
        if address is None:
            # A malformed hop: what lies left of it cannot be believed either.
            break
        if not _trusted(address, proxies):
            return str(address)
        peer_address = address
    return str(peer_address)
