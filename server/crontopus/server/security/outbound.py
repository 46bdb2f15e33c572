"""Where the server may connect on a tenant's behalf: public addresses, on the usual ports.

Alert channels make the server open connections to hosts its users name. Without a policy a
user could aim one at the server's own loopback, the private network around it or a cloud
metadata address. So a host is resolved, every address it resolves to is judged, and the
connection goes to an address that was judged (never to a second lookup, which DNS rebinding
could answer differently). The operator's allow-list (`CRONTOPUS_OUTBOUND_ALLOW`) opens more.
"""

from __future__ import annotations

import asyncio
import enum
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_CGNAT: Final = ipaddress.ip_network("100.64.0.0/10")
_UNIQUE_LOCAL: Final = ipaddress.ip_network("fc00::/7")
#: NAT64's well-known prefix: the last 32 bits are the IPv4 address it reaches.
_NAT64: Final = ipaddress.ip_network("64:ff9b::/96")
ALLOW_VARIABLE: Final = "CRONTOPUS_OUTBOUND_ALLOW"


class Service(enum.Enum):
    """What a connection is for, and so which ports it may use without the allow-list."""

    HTTP = (80, 443)
    SMTP = (25, 465, 587)

    @property
    def ports(self) -> tuple[int, ...]:
        ports: tuple[int, ...] = self.value
        return ports

    def describe_ports(self) -> str:
        *first, last = (str(port) for port in self.ports)
        return f"{', '.join(first)} and {last}" if first else last


class OutboundRefused(Exception):
    """The destination is not allowed; the message says why and what would allow it."""

    def __init__(self, message: str, *, port: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.port = port  # the port is what is refused, not the address


class OutboundUnresolved(Exception):
    """The host name did not resolve (it may next time)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class AllowRule:
    """One allow-list entry: a network, and the one port it opens (every port when None)."""

    network: IPNetwork
    port: int | None = None

    def admits(self, address: IPAddress, port: int) -> bool:
        return address in self.network and (self.port is None or self.port == port)

    def __str__(self) -> str:
        return f"{self.network}" + (f":{self.port}" if self.port is not None else "")


def parse_allow_list(text: str) -> tuple[AllowRule, ...]:
    """Parse `10.0.0.0/8,127.0.0.1/32:9000,[fd00::/8]:8080`; raise ValueError naming the entry."""
    return tuple(_parse_rule(entry.strip()) for entry in text.split(",") if entry.strip())


def _parse_rule(entry: str) -> AllowRule:
    network, port = entry, ""
    if entry.startswith("["):
        network, _, rest = entry[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError(f"{entry!r}: write an IPv6 network with a port as [fd00::/8]:9000")
        port = rest[1:]
    elif "/" in entry:
        # The prefix length ends the address, so a port after it is unambiguous, even for IPv6.
        address, _, suffix = entry.partition("/")
        prefix, _, port = suffix.partition(":")
        network = f"{address}/{prefix}"
    elif entry.count(":") == 1:  # an IPv4 address with a port
        network, _, port = entry.partition(":")
    try:
        parsed = ipaddress.ip_network(network, strict=False)
    except ValueError:
        raise ValueError(
            f"{entry!r} is not a network (write CIDRs like 10.0.0.0/8 or 127.0.0.1/32:9000)"
        ) from None
    if not port:
        return AllowRule(parsed)
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{entry!r}: the port must be a number from 1 to 65535")
    return AllowRule(parsed, int(port))


def inside(address: IPAddress) -> str | None:
    """Name the non-public kind of `address` (loopback, private, ...), or None when public."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            # What the packet finally reaches is the IPv4 address inside.
            kind = inside(embedded)
            return None if kind is None else f"{kind} (as {embedded})"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (cloud metadata lives there)"
    if address.is_multicast:
        return "a multicast address"
    if address in _CGNAT:
        return "a shared (CGNAT) address"
    if address in _UNIQUE_LOCAL:
        return "a unique-local address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "a reserved address"
    return None


@dataclass(frozen=True)
class OutboundPolicy:
    """Judges destinations: public addresses on the service's ports, plus the allow-list."""

    allow: tuple[AllowRule, ...] = ()

    def problem(self, address: IPAddress, port: int, service: Service) -> str | None:
        """Say why `address`:`port` may not be reached for `service`, or None when it may."""
        if any(rule.admits(address, port) for rule in self.allow):
            return None
        kind = inside(address)
        if kind is not None:
            return f"{address} is {kind}: channels may only reach public addresses"
        if port not in service.ports:
            return (
                f"port {port} is not allowed: channels of this kind may use ports "
                f"{service.describe_ports()}"
            )
        return None

    def check(self, host: str, addresses: Iterable[IPAddress], port: int, service: Service) -> None:
        """Raise OutboundRefused unless every address of `host` may be reached."""
        for address in addresses:
            problem = self.problem(address, port, service)
            if problem is not None:
                named = "" if host == str(address) else f"{host} resolves to {address}; "
                raise OutboundRefused(
                    f"{named}{problem} (the server's operator can allow more with "
                    f"{ALLOW_VARIABLE})",
                    port=inside(address) is None,
                )

    async def resolve(self, host: str, port: int, service: Service) -> list[IPAddress]:
        """Resolve `host` once and return its addresses, each of them judged allowed."""
        addresses = await _lookup(host, port)
        self.check(host, addresses, port, service)
        return addresses


async def _lookup(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (socket.gaierror, UnicodeError) as error:
        reason = error.strerror if isinstance(error, socket.gaierror) else str(error)
        raise OutboundUnresolved(f"{host} could not be resolved ({reason})") from None
    found: dict[IPAddress, None] = {}
    for _family, _type, _proto, _name, sockaddr in infos:
        # A scoped IPv6 address ("fe80::1%eth0") comes back with its scope separately.
        found[ipaddress.ip_address(str(sockaddr[0]).split("%")[0])] = None
    if not found:
        raise OutboundUnresolved(f"{host} has no address")
    return list(found)
