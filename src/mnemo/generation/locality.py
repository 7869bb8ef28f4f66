"""Whether a model's URL is on this machine or a private network (so text sent to it
stays with the user), decided from the URL alone, before any connection and without
a DNS lookup."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from urllib.parse import urlsplit

#: Where each built-in provider sends requests when no base_url is set.
DEFAULT_URLS = {
    "openai-compatible": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
}


def model_url(provider: str, base_url: str | None) -> str | None:
    """The URL a provider will call; None when unknown (a plugin with no base_url)."""
    return base_url or DEFAULT_URLS.get(provider)


def is_local(url: str | None, extra_hosts: Sequence[str] = ()) -> bool:
    """True for loopback, private, link-local and unique-local addresses, ``localhost``
    and its subdomains, and ``extra_hosts`` (guard.local_hosts). An unknown URL is
    remote: the safe answer."""
    if not url:
        return False
    host = (urlsplit(url if "://" in url else f"//{url}").hostname or "").lower().rstrip(".")
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    if host in {h.lower() for h in extra_hosts}:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_private or address.is_link_local
