"""Fetching web pages added by URL: limits, robots.txt, conditional requests, SSRF guard.

Only the network happens here, in the calling process: the bytes are saved under
``<home>/web/`` and parsed in worker processes like any file
(:mod:`mnemo.ingest.pages`). Each fetch has a time limit for the whole page (a body
that trickles in is cut off), a size limit checked before and while reading,
a limited number of redirects (each one checked again), only http and https,
and a User-Agent that names Mnemo. robots.txt is read with the standard
library's parser, capped at :data:`ROBOTS_MAX_BYTES`.

With ``guard`` (a URL a server client submitted), every connection checks the
addresses its host resolves to, at the moment it connects (so DNS rebinding and
redirects are covered too), and refuses loopback, private, link-local, multicast,
reserved and cloud metadata addresses.
"""

from __future__ import annotations

import hashlib
import ipaddress
import mimetypes
import socket
import time
import typing
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpcore
import httpx

from mnemo.config.settings import WebSettings
from mnemo.errors import SourceError

SCHEMES = ("http", "https")
ROBOTS_MAX_BYTES = 512 * 1024
#: Content types read without looking further (others: by the registry's extensions).
_EXTENSIONS = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "text/plain": ".txt",
    "text/markdown": ".md",
    "text/x-markdown": ".md",
    "application/pdf": ".pdf",
}
_METADATA_HOSTS = {"metadata.google.internal", "metadata", "instance-data"}


class UrlRefused(SourceError):
    """A URL that may not be fetched; ``forbidden`` when it points where it may not."""

    def __init__(self, message: str, *, forbidden: bool) -> None:
        super().__init__(message)
        self.forbidden = forbidden


class FetchFailed(SourceError):
    """A page could not be fetched now; the message is one line naming the URL."""


class _Refused(Exception):
    """Raised inside a connection attempt to an address the guard refuses."""


def is_url(text: object) -> bool:
    """True for ``scheme://...`` strings (any scheme: unsupported ones are refused later)."""
    if not isinstance(text, str):
        return False
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme[:1].isalpha() and all(c.isalnum() or c in "+.-" for c in scheme)


def normalise_url(raw: str) -> str:
    """``raw`` with its scheme and host lower-cased and its fragment dropped; UrlRefused
    for schemes other than http and https or a URL without a host."""
    raw = raw.strip()
    scheme = raw.partition("://")[0].lower()
    if scheme not in SCHEMES:
        raise UrlRefused(
            f"{raw}: only http:// and https:// addresses can be added; "
            "download the file and add the saved copy",
            forbidden=False,
        )
    try:
        url = httpx.URL(raw)
    except (httpx.InvalidURL, ValueError) as exc:
        raise UrlRefused(f"{raw}: not a valid address ({exc})", forbidden=False) from exc
    if not url.host:
        raise UrlRefused(f"{raw}: the address has no host name", forbidden=False)
    if url.userinfo:
        raise UrlRefused(
            f"{url.copy_with(username=None, password=None)}: give the address without a user "
            "name or password (it would be stored and shown with every citation)",
            forbidden=False,
        )
    return str(url.copy_with(fragment=None))


def refused_address(address: str) -> str | None:
    """Why a server may not connect to ``address`` (an IP), or None if it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address (cloud metadata services live there)"
    if ip.is_private:
        return "a private network address"
    if ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return "a reserved address"
    if str(ip) in ("100.100.100.200", "fd00:ec2::254"):  # Alibaba and AWS IPv6 metadata
        return "a cloud metadata address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.ip_network("100.64.0.0/10"):
        return "a shared (carrier-grade NAT) address"
    return None


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchFailed(f"cannot find the host {host} ({exc.strerror})") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, if none is refused; else UrlRefused."""
    if host.lower().rstrip(".") in _METADATA_HOSTS:
        raise UrlRefused(f"{host} is a cloud metadata host", forbidden=True)
    addresses = _resolve(host.strip("[]"), port)
    for address in addresses:
        why = refused_address(address)
        if why is not None:
            named = host if host.strip("[]") == address else f"{host} resolves to {address},"
            raise UrlRefused(
                f"{named} {'is ' if named == host else ''}{why}; the server does not fetch "
                "such addresses for clients (web.allow_private_addresses)",
                forbidden=True,
            )
    return addresses


def check_url(url: str) -> None:
    """UrlRefused if ``url``'s host resolves to an address a server may not reach."""
    parsed = httpx.URL(url)
    try:
        check_host(parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80))
    except UrlRefused as exc:
        raise UrlRefused(f"{url}: {exc}", forbidden=True) from None
    except FetchFailed as exc:
        raise UrlRefused(f"{url}: {exc}", forbidden=False) from None


class _GuardedBackend(httpcore.SyncBackend):
    """Connects only to addresses :func:`check_host` allows, the very ones it checked."""

    def connect_tcp(  # type: ignore[override]
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = check_host(host, port)
        except UrlRefused as exc:
            raise _Refused(str(exc)) from exc
        except FetchFailed as exc:  # DNS: reported as for an unguarded fetch
            raise httpcore.ConnectError(str(exc)) from exc.__cause__
        error: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                error = exc
        raise error or httpcore.ConnectError(f"no address for {host}")


@dataclass
class Fetched:
    """What a fetch found: ``new`` (with ``data``), ``not_modified`` or ``gone``."""

    url: str
    state: typing.Literal["new", "not_modified", "gone"]
    data: bytes = b""
    extension: str = ""
    content_type: str | None = None
    validators: dict[str, str] = field(default_factory=dict)  # etag, last_modified
    status: int = 200


def _client(settings: WebSettings, guard: bool) -> httpx.Client:
    transport = httpx.HTTPTransport(retries=0)
    if guard:
        pool = transport._pool  # httpx offers no public hook for the connecting backend
        assert isinstance(pool, httpcore.ConnectionPool)
        pool._network_backend = _GuardedBackend()
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(settings.timeout_seconds),
        follow_redirects=False,
        trust_env=False,  # an environment proxy would connect where the guard cannot see
        headers={"User-Agent": settings.user_agent},
    )


def _mb(limit: float) -> str:
    return f"{limit:g} MB"


class Fetcher:
    """Fetches pages with one client (kept alive across pages) and cached robots.txt rules."""

    def __init__(self, settings: WebSettings, *, guard: bool = False) -> None:
        self.settings = settings
        self.guard = guard
        self._client = _client(settings, guard)
        self._robots: dict[str, RobotFileParser | str] = {}

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> typing.Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        """The page at ``url``. FetchFailed when it cannot be had now, UrlRefused when it
        may not be fetched at all; their messages are one line, without the URL."""
        deadline = time.monotonic() + self.settings.timeout_seconds
        try:
            return self._fetch(url, etag, last_modified, deadline)
        except _Refused as exc:
            raise UrlRefused(str(exc), forbidden=True) from None
        except httpx.TimeoutException:
            raise FetchFailed(
                f"no complete answer within {self.settings.timeout_seconds:g} s "
                "(raise web.timeout_seconds, or try again later)"
            ) from None
        except httpx.TooManyRedirects:
            raise FetchFailed(self._too_many_redirects()) from None
        except httpx.ConnectError as exc:
            if _dns_failure(exc):
                raise FetchFailed(
                    f"cannot find the host {httpx.URL(url).host} (DNS); check the address "
                    "and the network"
                ) from None
            raise FetchFailed(
                f"cannot connect ({exc}); check the address, or try again later"
            ) from None
        except httpx.HTTPError as exc:
            raise FetchFailed(
                f"cannot connect ({exc or type(exc).__name__}); check the address, "
                "or try again later"
            ) from None

    def _too_many_redirects(self) -> str:
        return (
            f"more than {self.settings.max_redirects} redirects "
            "(raise web.max_redirects, or add the address it ends at)"
        )

    def _fetch(
        self, url: str, etag: str | None, last_modified: str | None, deadline: float
    ) -> Fetched:
        current = url
        headers = {
            "Accept": "text/html, application/xhtml+xml, text/plain, application/pdf;q=0.9, */*;q=0.5"
        }
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        for _ in range(self.settings.max_redirects + 1):
            self._check_robots(current)
            with self._client.stream("GET", current, headers=headers) as response:
                if response.has_redirect_location:
                    target = urljoin(current, response.headers.get("location", ""))
                    if urlsplit(target).scheme.lower() not in SCHEMES:
                        raise FetchFailed(f"redirected to {target}, which is not http or https")
                    current = normalise_url(target)
                    continue
                return self._answer(url, response, deadline)
        raise FetchFailed(self._too_many_redirects())

    def _answer(self, url: str, response: httpx.Response, deadline: float) -> Fetched:
        if response.status_code == 304:
            return Fetched(url, "not_modified", status=304)
        if response.status_code in (404, 410):
            return Fetched(url, "gone", status=response.status_code)
        if response.status_code >= 300:
            raise FetchFailed(
                f"the server answered HTTP {response.status_code} {response.reason_phrase}; "
                "check the address, or try again later"
            )
        content_type = _media_type(response.headers.get("content-type"))
        extension = self._extension(url, content_type)
        data = self._read(response, deadline)
        validators = {}
        if response.headers.get("etag"):
            validators["etag"] = response.headers["etag"]
        if response.headers.get("last-modified"):
            validators["last_modified"] = response.headers["last-modified"]
        return Fetched(url, "new", data, extension, content_type, validators, response.status_code)

    def _extension(self, url: str, content_type: str | None) -> str:
        from mnemo.ingest.parsers import extensions

        known = extensions()
        if content_type in _EXTENSIONS:
            return _EXTENSIONS[content_type]
        guessed = mimetypes.guess_extension(content_type) if content_type else None
        if guessed and guessed.lower() in known:
            return guessed.lower()
        suffix = Path(urlsplit(url).path).suffix.lower()
        if content_type in (None, "application/octet-stream") and suffix in known:
            return suffix
        raise FetchFailed(
            f"the page is {content_type or 'of no stated type'}, which Mnemo does not read "
            "(HTML, plain text, PDF and the file formats `mnemo add` reads)"
        )

    def _read(self, response: httpx.Response, deadline: float) -> bytes:
        limit = int(self.settings.max_page_mb * 1_000_000)
        too_large = (
            f"the page is over the {_mb(self.settings.max_page_mb)} limit "
            "(raise web.max_page_mb to add it)"
        )
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FetchFailed(too_large)
        chunks, total = [], 0
        for chunk in response.iter_bytes():  # decoded: the limit holds for compressed pages
            total += len(chunk)
            if total > limit:
                raise FetchFailed(too_large)
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise httpx.ReadTimeout("the page took too long")
        return b"".join(chunks)

    # -- robots.txt ---------------------------------------------------------------

    def _check_robots(self, url: str) -> None:
        if not self.settings.respect_robots:
            return
        parts = urlsplit(url)
        site = f"{parts.scheme}://{parts.netloc}"
        if site not in self._robots:
            self._robots[site] = self._read_robots(site)
        rules = self._robots[site]
        if isinstance(rules, str):
            raise FetchFailed(rules)
        if not rules.can_fetch(self.settings.user_agent, url):
            raise FetchFailed(
                f"{site}/robots.txt does not allow fetching this page; Mnemo respects it "
                "(web.respect_robots = false turns that off, for sites you own)"
            )

    def _read_robots(self, site: str) -> RobotFileParser | str:
        """The site's rules, or why the page cannot be fetched now (robots.txt unreachable)."""
        rules = RobotFileParser()
        target = f"{site}/robots.txt"
        for _ in range(self.settings.max_redirects + 1):
            with self._client.stream("GET", target) as response:
                if response.has_redirect_location:
                    target = urljoin(target, response.headers.get("location", ""))
                    if urlsplit(target).scheme.lower() not in SCHEMES:
                        break
                    continue
                if 400 <= response.status_code < 500:  # no robots.txt: everything allowed
                    rules.allow_all = True
                    return rules
                if response.status_code >= 500:
                    return (
                        f"{site}/robots.txt answered HTTP {response.status_code}, so whether "
                        "the page may be fetched is unknown; try again later"
                    )
                body = b""
                deadline = time.monotonic() + self.settings.timeout_seconds
                for chunk in response.iter_bytes():
                    body += chunk
                    if time.monotonic() > deadline:
                        raise httpx.ReadTimeout("robots.txt took too long")
                    if len(body) > ROBOTS_MAX_BYTES:
                        body = body[:ROBOTS_MAX_BYTES]
                        break
                rules.parse(body.decode("utf-8", "replace").splitlines())
                return rules
        rules.allow_all = True  # redirected away or round in circles: as if there were none
        return rules


def _media_type(header: str | None) -> str | None:
    if not header:
        return None
    message = Message()
    message["content-type"] = header
    return message.get_content_type().lower()


def _dns_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, socket.gaierror):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def stored_name(url: str, extension: str) -> str:
    """The file, under ``<home>/web/``, that keeps ``url``'s fetched bytes."""
    return hashlib.sha256(url.encode()).hexdigest()[:32] + extension
