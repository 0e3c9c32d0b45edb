"""Which address a request came from: the socket's peer, or what trusted proxies forwarded."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from truthloop.web.addresses import client_address

PROXIES = (ip_network("10.0.0.0/8"), ip_network("::1/128"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "proxies", "client"),
    [
        ("192.0.2.1", "198.51.100.7", PROXIES, "192.0.2.1"),  # not a proxy: header ignored
        ("10.0.0.2", "198.51.100.7", (), "10.0.0.2"),  # nobody trusted: header ignored
        ("10.0.0.2", "198.51.100.7", PROXIES, "198.51.100.7"),
        ("10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.3", PROXIES, "198.51.100.7"),  # spoofed left
        ("10.0.0.2", "10.0.0.4, 10.0.0.3", PROXIES, "10.0.0.4"),  # proxies all the way
        ("10.0.0.2", "not-an-address, 198.51.100.7", PROXIES, "198.51.100.7"),
        ("10.0.0.2", "198.51.100.7, junk", PROXIES, "10.0.0.2"),  # nothing left of junk believed
        ("::1", "2001:db8::0001", PROXIES, "2001:db8::1"),  # canonical form: one key per address
        ("10.0.0.2", None, PROXIES, "10.0.0.2"),
        ("testclient", "198.51.100.7", PROXIES, "testclient"),
        (None, "198.51.100.7", PROXIES, None),
    ],
)
def test_the_client_address(
    peer: str | None, forwarded: str | None, proxies: tuple, client: str | None
) -> None:
    assert client_address(peer, forwarded, proxies) == client
