"""The outbound policy: which addresses and ports channels may reach, and the allow-list."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import pytest

from crontopus.server.errors import ConfigurationError
from crontopus.server.security.outbound import (
    OutboundPolicy,
    OutboundRefused,
    Service,
    inside,
    parse_allow_list,
)
from crontopus.server.settings import Settings
from tests.server.conftest import Api, Persona, free_port
from tests.server.services.alerts.conftest import create_channel


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fd00::1", "unique-local"),
        ("100.64.0.1", "CGNAT"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 (judged, never bound)
        ("::", "unspecified"),
        ("255.255.255.255", "reserved"),
        ("240.0.0.1", "reserved"),
        ("::ffff:127.0.0.1", "loopback address (as 127.0.0.1)"),
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::a00:1", "private address (as 10.0.0.1)"),
        ("2002:c0a8:101::1", "private address (as 192.168.1.1)"),
    ],
)
def test_it_names_every_kind_of_address_inside(address: str, kind: str) -> None:
    found = inside(ipaddress.ip_address(address))
    assert found is not None
    assert kind in found


@pytest.mark.parametrize("address", ["8.8.8.8", "2001:4860:4860::8888", "64:ff9b::808:808"])
def test_public_addresses_are_not_inside(address: str) -> None:
    # NAT64 of a public IPv4 address is how IPv6-only hosts reach hooks.slack.com.
    assert inside(ipaddress.ip_address(address)) is None


def test_http_and_smtp_channels_keep_to_their_ports() -> None:
    policy = OutboundPolicy()
    public = ipaddress.ip_address("8.8.8.8")
    assert policy.problem(public, 443, Service.HTTP) is None
    assert policy.problem(public, 80, Service.HTTP) is None
    assert policy.problem(public, 587, Service.SMTP) is None
    assert "ports 80 and 443" in str(policy.problem(public, 8080, Service.HTTP))
    assert "ports 25, 465 and 587" in str(policy.problem(public, 443, Service.SMTP))


def test_the_allow_list_opens_networks_on_every_port_or_on_the_one_given() -> None:
    policy = OutboundPolicy(parse_allow_list("127.0.0.1/32:9000, 10.0.0.0/8,[fd00::/8]:8080"))
    loopback, private = ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("10.9.8.7")
    assert policy.problem(loopback, 9000, Service.HTTP) is None
    assert "loopback" in str(policy.problem(loopback, 9001, Service.HTTP))
    assert policy.problem(private, 2525, Service.SMTP) is None
    assert policy.problem(ipaddress.ip_address("fd00::5"), 8080, Service.HTTP) is None
    assert policy.problem(ipaddress.ip_address("fd00::5"), 443, Service.HTTP) is not None
    assert "192.168.0.1 is a private address" in str(
        policy.problem(ipaddress.ip_address("192.168.0.1"), 443, Service.HTTP)
    )
    wider = OutboundPolicy(parse_allow_list("0.0.0.0/0:8443,::/0:8443"))
    assert wider.problem(ipaddress.ip_address("8.8.8.8"), 8443, Service.HTTP) is None


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "example.com", "10.0.0.0/8:http", "[::1]x"])
def test_a_malformed_allow_list_stops_the_server_naming_the_variable(entry: str) -> None:
    with pytest.raises(
        ConfigurationError, match="^CRONTOPUS_OUTBOUND_ALLOW: .*" + re.escape(entry)
    ):
        Settings.from_env(
            {"CRONTOPUS_SECRET_KEY": "k" * 40, "CRONTOPUS_OUTBOUND_ALLOW": f"10.0.0.0/8,{entry}"}
        )


async def test_a_name_is_judged_by_every_address_it_resolves_to() -> None:
    with pytest.raises(OutboundRefused, match=r"localhost resolves to (127\.0\.0\.1|::1)"):
        await OutboundPolicy().resolve("localhost", 80, Service.HTTP)
    # A name some of whose addresses are allowed is still refused for the others.
    only_v4 = OutboundPolicy(parse_allow_list("127.0.0.0/8"))
    both = OutboundPolicy(parse_allow_list("127.0.0.0/8,::1/128"))
    resolved = await both.resolve("localhost", 80, Service.HTTP)
    assert ipaddress.ip_address("127.0.0.1") in resolved
    if ipaddress.ip_address("::1") in resolved:
        with pytest.raises(OutboundRefused, match="::1 is a loopback address"):
            await only_v4.resolve("localhost", 80, Service.HTTP)


CHANNEL_FIELDS = "fields { path message }"


@pytest.mark.parametrize(
    ("kind", "config", "field", "said"),
    [
        ("WEBHOOK", {"url": "http://127.0.0.1:{port}/health"}, "url", "loopback"),
        ("WEBHOOK", {"url": "http://169.254.169.254/latest/meta-data/"}, "url", "link-local"),
        ("SLACK", {"url": "https://[::ffff:10.0.0.1]/services/x"}, "url", "private"),
        ("WEBHOOK", {"url": "http://localhost/hook"}, "url", "localhost resolves to"),
        # Loopback spelled as the resolver also reads it: judged by what it resolves to.
        ("WEBHOOK", {"url": "http://2130706433/hook"}, "url", "resolves to 127.0.0.1"),
        ("WEBHOOK", {"url": "http://0x7f.1/hook"}, "url", "resolves to 127.0.0.1"),
        ("WEBHOOK", {"url": "https://8.8.8.8:8443/hook"}, "url", "port 8443 is not allowed"),
        (
            "PAGERDUTY",
            {"routing_key": "R" * 32, "url": "http://100.64.1.1/v2/enqueue"},
            "url",
            "CGNAT",
        ),
        (
            "EMAIL",
            {"host": "10.0.0.25", "sender": "c@example.com", "recipients": ["o@example.com"]},
            "host",
            "private",
        ),
        (
            "EMAIL",
            {
                "host": "8.8.8.8",
                "port": 2525,
                "sender": "c@example.com",
                "recipients": ["o@example.com"],
            },
            "port",
            "ports 25, 465 and 587",
        ),
    ],
)
async def test_a_channel_aimed_inside_is_refused_naming_the_field(
    api: Api, alice: Persona, kind: str, config: dict[str, Any], field: str, said: str
) -> None:
    if "url" in config:
        config = {**config, "url": config["url"].format(port=free_port())}
    refused = await create_channel(api, alice, "inside", kind, config)
    assert refused["__typename"] == "ValidationError", refused
    (problem,) = refused["fields"]
    assert problem["path"] == ["input", "config", field]
    assert said in problem["message"]
    assert "CRONTOPUS_OUTBOUND_ALLOW" in problem["message"]


UPDATE = """
mutation($input: UpdateChannelInput!) {
  updateChannel(input: $input) {
    __typename ... on Channel { config } ... on ValidationError { fields { path message } }
  }
}
"""


async def test_a_channel_cannot_be_changed_to_aim_inside(api: Api, alice: Persona) -> None:
    # Saved, never sent: no incident names it and nobody tests it.
    channel = await create_channel(api, alice, "ops", "WEBHOOK", {"url": "https://8.8.8.8/hook"})
    assert channel["__typename"] == "Channel", channel
    data = await api.execute(
        UPDATE,
        {"input": {"id": channel["id"], "config": {"url": "http://10.0.0.1/hook"}}},
        alice.access_token,
    )
    (problem,) = data["updateChannel"]["fields"]
    assert problem["path"] == ["input", "config", "url"]
    assert "10.0.0.1 is a private address" in problem["message"]
