"""A local HTTP server for download tests: in-memory files, ranges, faults, fake registries.

    with LocalServer() as server:               # or the ``http_server`` fixture:
                                                 # import http_server_fixture (noqa: F401)
        server.add("/model.bin", data, drop_after_bytes=1000, drop_times=1)
        Downloader().fetch(server.url("/model.bin"), target)
        server.requests                          # what the client asked and got

It also publishes wheels and npm tarballs the way PyPI (PEP 691 JSON simple index)
and the npm registry describe them, so registry code runs end to end offline.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import socket
import sys
import tarfile
import threading
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx
import pytest


@dataclass
class Served:
    """A path's body and how the server misbehaves when asked for it."""

    body: bytes
    """What a GET answers."""
    content_type: str = "application/octet-stream"
    """Content-Type header."""
    status: int | None = None
    """Always answer this status (no body) instead of the file."""
    fail_times: int = 0
    """Answer ``fail_status`` to this many requests first."""
    fail_status: int = 500
    """The status of those failures."""
    drop_after_bytes: int | None = None
    """Close the connection after sending this many body bytes of a GET."""
    drop_times: int | None = None
    """Drop only the first N GETs (None: every GET)."""
    ignore_range: bool = False
    """Answer 200 with the whole file even to Range requests."""
    stall_seconds: float = 0.0
    """Wait this long before answering (for timeout tests)."""
    redirect_to: str | None = None
    """Answer 302 to this path."""
    etag: bool = True
    """Send a strong ETag and honour If-Range."""
    served_get: int = 0
    """GETs answered so far (drops count)."""
    failed: int = 0
    """Failures sent so far."""


@dataclass(frozen=True)
class RequestRecord:
    """One request and what was sent back."""

    method: str
    """GET, HEAD..."""
    path: str
    """Path without the query."""
    headers: Mapping[str, str]
    """Request headers (lower-case names)."""
    status: int
    """Status answered."""
    body_bytes: int
    """Body bytes actually written (less than promised on a drop)."""


def make_wheel(members: Mapping[str, bytes]) -> bytes:
    """A zip (wheel) holding ``members``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def make_npm_tarball(members: Mapping[str, bytes]) -> bytes:
    """A gzip tarball holding ``members`` (give names with the ``package/`` prefix)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def normalize(name: str) -> str:
    """PEP 503 name, written independently of the code under test."""
    out: list[str] = []
    for ch in name.lower():
        if ch in "-_.":
            if not out or out[-1] != "-":
                out.append("-")
        else:
            out.append(ch)
    return "".join(out)


@dataclass
class _FakePyPI:
    files: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    versions: dict[str, list[str]] = field(default_factory=dict)


class LocalServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 with a random port."""

    def __init__(self) -> None:
        self.files: dict[str, Served] = {}
        self.requests: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._pypi = _FakePyPI()
        self._npm: dict[str, dict[str, Any]] = {}
        self._httpd = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        """Absolute URL of a path."""
        return self.base_url + path

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # Content ------------------------------------------------------------------------

    def add(self, path: str, body: bytes, **behaviour: Any) -> Served:
        """Serve ``body`` at ``path`` with the given Served options."""
        served = Served(body=body, **behaviour)
        with self._lock:
            self.files[path] = served
        return served

    def add_json(self, path: str, document: Any, content_type: str = "application/json") -> Served:
        """Serve a JSON document."""
        return self.add(path, json.dumps(document).encode(), content_type=content_type)

    def requests_for(self, path: str, method: str = "GET") -> list[RequestRecord]:
        """The log of one path."""
        with self._lock:
            return [r for r in self.requests if r.path == path and r.method == method]

    # Fake PyPI ----------------------------------------------------------------------

    def publish_wheel(
        self,
        package: str,
        version: str,
        wheel: bytes,
        *,
        tag: str = "py3-none-any",
        with_size: bool = True,
        with_hash: bool = True,
        **behaviour: Any,
    ) -> str:
        """Serve a wheel and list it in the PEP 691 index at ``/simple/``; its filename."""
        escaped = normalize(package).replace("-", "_")
        filename = f"{escaped}-{version}-{tag}.whl"
        self.add(f"/files/{filename}", wheel, **behaviour)
        entry: dict[str, Any] = {
            "filename": filename,
            # Relative, as PEP 691 allows: resolved against the project page URL.
            "url": f"../../files/{filename}",
            "hashes": {"sha256": hashlib.sha256(wheel).hexdigest()} if with_hash else {},
            "requires-python": ">=3.8",
            "yanked": False,
        }
        if with_size:
            entry["size"] = len(wheel)
        self._publish_pypi_entry(package, version, entry)
        return filename

    def publish_sdist(self, package: str, version: str) -> str:
        """List a source distribution only (no wheel) for ``package==version``."""
        filename = f"{normalize(package).replace('-', '_')}-{version}.tar.gz"
        self.add(f"/files/{filename}", b"sdist")
        entry = {
            "filename": filename,
            "url": f"{self.base_url}/files/{filename}",
            "hashes": {"sha256": hashlib.sha256(b"sdist").hexdigest()},
        }
        self._publish_pypi_entry(package, version, entry)
        return filename

    def _publish_pypi_entry(self, package: str, version: str, entry: dict[str, Any]) -> None:
        name = normalize(package)
        files = self._pypi.files.setdefault(name, [])
        files.append(entry)
        versions = self._pypi.versions.setdefault(name, [])
        if version not in versions:
            versions.append(version)
        self.add_json(
            f"/simple/{name}/",
            {"meta": {"api-version": "1.1"}, "name": name, "files": files, "versions": versions},
            content_type="application/vnd.pypi.simple.v1+json",
        )

    # Fake npm -----------------------------------------------------------------------

    def publish_npm(
        self, package: str, version: str, tarball: bytes, *, integrity: str | None = None
    ) -> str:
        """Serve a tarball and its metadata under ``/npm/``; the tarball URL."""
        short = package.rsplit("/", 1)[-1]
        path = f"/npm/{package}/-/{short}-{version}.tgz"
        self.add(path, tarball)
        digest = base64.b64encode(hashlib.sha512(tarball).digest()).decode()
        dist = {
            "tarball": self.url(path),
            "shasum": hashlib.sha1(tarball).hexdigest(),
            "integrity": integrity or f"sha512-{digest}",
            "fileCount": 1,
            "unpackedSize": len(tarball) * 3,
        }
        document = {"name": package, "version": version, "dist": dist}
        encoded = quote(package, safe="@")
        self.add_json(f"/npm/{encoded}/{version}", document)
        packument = self._npm.setdefault(package, {"name": package, "versions": {}})
        packument["versions"][version] = document
        self.add_json(f"/npm/{encoded}", packument)
        return self.url(path)


class _QuietServer(ThreadingHTTPServer):
    """Threads per request; a client that hung up (timeout tests) is not an error."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler_for(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

        def do_HEAD(self) -> None:
            self._answer(head=True)

        def do_GET(self) -> None:
            self._answer(head=False)

        def _answer(self, *, head: bool) -> None:
            path = unquote(urlsplit(self.path).path)
            # The npm registry encodes the slash of scoped names; keep it encoded for lookup.
            raw_path = urlsplit(self.path).path
            with server._lock:
                served = server.files.get(raw_path) or server.files.get(path)
                if served is not None and not head:
                    served.served_get += 1
            headers = {k.lower(): v for k, v in self.headers.items()}
            if served is None:
                self._send_status(path, headers, 404, head)
                return
            if served.stall_seconds:
                server._release.wait(served.stall_seconds)
            if served.redirect_to is not None:
                self._record(path, headers, 302, 0)
                self.send_response(302)
                self.send_header("Location", served.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if served.status is not None:
                self._send_status(path, headers, served.status, head)
                return
            if served.failed < served.fail_times:
                served.failed += 1
                self._send_status(path, headers, served.fail_status, head)
                return
            self._send_body(path, headers, served, head)

        def _send_status(self, path: str, headers: dict[str, str], status: int, head: bool) -> None:
            body = b"" if head else f"status {status}".encode()
            self._record(path, headers, status, len(body))
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _send_body(
            self, path: str, headers: dict[str, str], served: Served, head: bool
        ) -> None:
            data = served.body
            size = len(data)
            etag = '"' + hashlib.sha256(data).hexdigest()[:20] + '"'
            first, last = 0, size - 1
            status = 200
            wanted = headers.get("range")
            if_range = headers.get("if-range")
            honour = (
                wanted is not None
                and not served.ignore_range
                and (if_range is None or (served.etag and if_range == etag))
            )
            if honour and wanted is not None:
                spec = wanted.removeprefix("bytes=").split(",")[0].strip()
                start_text, _, end_text = spec.partition("-")
                if start_text:
                    first = int(start_text)
                    last = min(int(end_text), size - 1) if end_text else size - 1
                else:
                    first, last = max(size - int(end_text), 0), size - 1
                if first >= size or first > last:
                    self._record(path, headers, 416, 0)
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
            chunk = data[first : last + 1]
            drop = served.drop_after_bytes is not None and (
                served.drop_times is None or served.served_get <= served.drop_times
            )
            if (
                drop
                and served.drop_after_bytes is not None
                and served.drop_after_bytes < len(chunk)
            ):
                chunk_sent = served.drop_after_bytes
            else:
                drop, chunk_sent = False, len(chunk)
            # Logged before the body goes out: a client may act on the answer at once.
            self._record(path, headers, status, 0 if head else chunk_sent)
            self.send_response(status)
            self.send_header("Content-Type", served.content_type)
            self.send_header("Content-Length", str(len(chunk)))
            self.send_header("Accept-Ranges", "none" if served.ignore_range else "bytes")
            if served.etag:
                self.send_header("ETag", etag)
            if status == 206:
                self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
            self.end_headers()
            if head:
                return
            self.wfile.write(chunk[:chunk_sent])
            if drop:
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

        def _record(self, path: str, headers: dict[str, str], status: int, sent: int) -> None:
            with server._lock:
                server.requests.append(RequestRecord(self.command, path, headers, status, sent))

    return Handler


@pytest.fixture(name="http_server")
def http_server_fixture() -> Iterator[LocalServer]:
    """A running LocalServer (``.base_url``, ``.add``, ``.requests``), stopped afterwards."""
    with LocalServer() as server:
        yield server


@pytest.fixture(name="http_client", scope="session")
def http_client_fixture() -> Iterator[httpx.Client]:
    """One httpx client for a test session (building one costs about 0.1 s of TLS setup)."""
    with httpx.Client() as client:
        yield client
