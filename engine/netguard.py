"""Networks that outbound calls a bot's author can aim (action, NLG, LLM endpoints) may not
reach: link-local and cloud metadata addresses by default. A host name is resolved and every
address it resolves to is checked."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

import httpx

__all__ = ["DEFAULT_BLOCKED_NETWORKS", "BlockedAddress", "BlockedNetworks"]

DEFAULT_BLOCKED_NETWORKS = (
    "169.254.0.0/16",
    "fe80::/10",
    "100.100.100.200/32",
    "192.0.0.192/32",
    "fd00:ec2::254/128",
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedAddress(ValueError):
    """The URL's host is, or resolves to, an address in a blocked network."""


class BlockedNetworks:
    def __init__(self, networks: Iterable[str] = DEFAULT_BLOCKED_NETWORKS) -> None:
        self.networks = [ipaddress.ip_network(n.strip(), strict=False) for n in networks if n]

    @classmethod
    def parse(cls, text: str | None) -> BlockedNetworks:
        """From a comma-separated list of CIDRs (None: the default list; "": none)."""
        if text is None:
            return cls()
        return cls(part for part in text.split(",") if part.strip())

    def network_of(self, address: IPAddress) -> str | None:
        candidates = [address]
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            candidates.append(address.ipv4_mapped)
        for candidate in candidates:
            for network in self.networks:
                if candidate.version == network.version and candidate in network:
                    return str(network)
        return None

    def check_url(self, url: str) -> None:
        """Raise `BlockedAddress` when `url`'s host is, or resolves to, a blocked address.
        A host that does not resolve passes (the request itself then fails)."""
        if not self.networks:
            return
        parsed = httpx.URL(url)
        host = parsed.host
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError):
            return
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            network = self.network_of(address)
            if network is not None:
                raise BlockedAddress(
                    f"{url} is refused: {host} is {address}, in the blocked network {network}"
                )
