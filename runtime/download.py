"""Resumable, verified HTTPS downloads for the model store.

``Downloader.fetch(url, target)`` streams into ``target.part`` and renames it to
``target`` only after its size and hashes match. The ``.part`` file outlives a dropped
connection and a killed process: the next attempt (a retry in the same call, or the
next call) hashes what is there and asks for the rest with an HTTP ``Range`` request.
A server that ignores ranges, or whose file changed (``If-Range``), sends the whole
file again and the part restarts from zero.

Errors::

    DownloadError (EngineError)   a URL failed for good: status, timeout, mismatch
    ResourceExhausted              not enough free disk (check_free_space, disk full)
    ModelBusy                       another process is downloading the same file
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import math
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

import httpx

from runtime.errors import EngineError, ModelBusy, ModelRuntimeError, ResourceExhausted
from runtime.files import replace_durably
from runtime.tls import tls_context

log = logging.getLogger(__name__)

USER_AGENT = "edge-assistant-model-store/0.1 (+httpx)"
MAX_BACKOFF_SECONDS = 60.0
"""Ceiling of the exponential backoff between attempts."""
MAX_RETRY_AFTER_SECONDS = 300.0
"""Ceiling of a server's ``Retry-After`` that we honour."""
FATAL_STATUSES = frozenset({400, 401, 403, 404, 405, 406, 410, 411, 412, 414, 451})
"""Answers that will not change on retry: fail at once."""
RETRIED_STATUSES = frozenset({408, 425, 429})
"""Client-error answers that mean 'try again later'."""

_STATUS_TEXT = {
    401: "needs authentication",
    403: "forbidden (access denied)",
    404: "not found",
    410: "gone (removed by the server)",
    451: "unavailable for legal reasons",
}
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*$", re.IGNORECASE)


class Progress(Protocol):
    """Receives byte counts of long work; one task at a time."""

    def start(self, description: str, total: int | None) -> None:
        """A new task of ``total`` bytes (None when unknown)."""

    def advance(self, amount: int) -> None:
        """``amount`` more bytes done."""

    def finish(self) -> None:
        """The current task is over."""


class NullProgress:
    """A Progress that shows nothing."""

    def start(self, description: str, total: int | None) -> None:
        """Ignore."""

    def advance(self, amount: int) -> None:
        """Ignore."""

    def finish(self) -> None:
        """Ignore."""


@dataclass(frozen=True)
class Fetched:
    """A file that arrived whole and verified."""

    path: Path
    """Where it is."""
    sha256: str
    """Hex digest of its bytes."""
    size: int
    """Bytes."""


class DownloadError(EngineError):
    """A download failed for good (after retries when retrying could help)."""

    code = "download-failed"
    title = "Download failed"

    def __init__(self, detail: str, *, url: str, status: int | None = None, **fields: Any) -> None:
        super().__init__(detail, url=url, status=status, **fields)
        self.url = url
        """The URL that failed."""
        self.status = status
        """HTTP status of the failing answer, None when there was none."""


# Pure helpers ---------------------------------------------------------------------


def backoff_delay(
    failures: int, backoff_seconds: float, retry_after_seconds: float | None
) -> float:
    """Seconds to wait before the next attempt after ``failures`` consecutive failures."""
    delay = min(backoff_seconds * 2.0 ** max(failures - 1, 0), MAX_BACKOFF_SECONDS)
    if retry_after_seconds is not None:
        delay = max(delay, min(retry_after_seconds, MAX_RETRY_AFTER_SECONDS))
    return delay


def parse_content_range(value: str | None) -> tuple[int | None, int | None, int | None]:
    """``bytes first-last/total`` as (first, last, total); unknown pieces are None."""
    match = _CONTENT_RANGE.match(value or "")
    if match is None:
        return None, None, None
    first, last, total = match.groups()
    return (
        int(first) if first is not None else None,
        int(last) if last is not None else None,
        int(total) if total != "*" else None,
    )


def parse_retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` in seconds (the HTTP-date form is ignored)."""
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())


def resume_validator(headers: httpx.Headers) -> str | None:
    """What to send as ``If-Range``: a strong ETag, else Last-Modified, else None."""
    etag: str | None = headers.get("ETag")
    if etag and not etag.startswith("W/"):
        return etag
    modified: str | None = headers.get("Last-Modified")
    return modified


def space_shortfall(needed_bytes: int, free_bytes: int, margin_bytes: int) -> int:
    """Bytes missing for ``needed_bytes`` plus the margin; 0 when there is room."""
    return max(0, needed_bytes + margin_bytes - free_bytes)


def megabytes(size: int, *, round_up: bool) -> int:
    """Bytes as whole MB (10^6 bytes), rounded up for needs and down for what is free."""
    return math.ceil(size / 1_000_000) if round_up else size // 1_000_000


def describe_status(status: int) -> str:
    """``404 not found`` and the like."""
    text = _STATUS_TEXT.get(status)
    return f"HTTP {status} {text}" if text else f"HTTP {status}"


# Free disk --------------------------------------------------------------------------


def disk_free_bytes(folder: Path) -> int:
    """Bytes free for an unprivileged user on the file system holding ``folder``."""
    return shutil.disk_usage(folder).free


def check_free_space(
    folder: Path,
    needed_bytes: int,
    *,
    margin_bytes: int = 100 << 20,
    free_bytes: Callable[[Path], int] = disk_free_bytes,
) -> None:
    """Raise ResourceExhausted unless ``folder``'s disk holds ``needed_bytes`` plus a margin."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    free = free_bytes(existing)
    missing = space_shortfall(needed_bytes, free, margin_bytes)
    if missing == 0:
        return
    needed_mb = megabytes(needed_bytes, round_up=True)
    margin_mb = megabytes(margin_bytes, round_up=True)
    free_mb = megabytes(free, round_up=False)
    raise ResourceExhausted(
        f"Not enough disk space in {folder}: {needed_mb} MB needed (plus a {margin_mb} MB"
        f" margin) but {free_mb} MB free; free at least"
        f" {megabytes(missing, round_up=True)} MB and try again",
        needed_mb=needed_mb,
        free_mb=free_mb,
        margin_mb=margin_mb,
    )


# The partial file -------------------------------------------------------------------


class _PartFile:
    """``target.part``: locked, hashed as it grows, resumable across processes.

    A sidecar ``target.part.validator`` keeps the ETag/Last-Modified of the answer the
    bytes came from, so a resume asks ``If-Range`` and a changed file restarts.
    """

    def __init__(self, target: Path, *, sha512: bool) -> None:
        self.path = target.with_name(target.name + ".part")
        self.validator_path = target.with_name(target.name + ".part.validator")
        self._want_sha512 = sha512
        self._handle: IO[bytes] = self._open_locked()
        self.sha256 = hashlib.sha256()
        self.sha512 = hashlib.sha512() if sha512 else None
        self.size = 0

    def _open_locked(self) -> IO[bytes]:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        handle = os.fdopen(fd, "r+b")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.close()
            raise ModelBusy(
                f"{self.path} is being downloaded by another process; wait for it to finish"
            ) from exc
        return handle

    def hash_existing(self, chunk_bytes: int, reached: Callable[[int], None]) -> int:
        """Hash what a previous attempt left; its size."""
        self._handle.seek(0)
        while chunk := self._handle.read(chunk_bytes):
            self._update(chunk)
            reached(self.size)
        self._handle.seek(0, os.SEEK_END)
        return self.size

    @property
    def validator(self) -> str | None:
        """ETag/Last-Modified of the bytes already here."""
        try:
            return self.validator_path.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def set_validator(self, value: str | None) -> None:
        """Remember what the bytes from offset zero came from."""
        if value is None:
            self.validator_path.unlink(missing_ok=True)
        else:
            self.validator_path.write_text(value, encoding="utf-8")

    def append(self, chunk: bytes) -> None:
        """Write and hash more bytes."""
        self._handle.write(chunk)
        self._update(chunk)

    def reset(self) -> None:
        """Start again from zero."""
        self._handle.seek(0)
        self._handle.truncate()
        self.sha256 = hashlib.sha256()
        self.sha512 = hashlib.sha512() if self._want_sha512 else None
        self.size = 0
        self.set_validator(None)

    def commit(self, target: Path) -> None:
        """Flush to disk and rename into place atomically."""
        replace_durably(self._handle, self.path, target)
        self._handle.close()
        self.validator_path.unlink(missing_ok=True)

    def discard(self) -> None:
        """Delete the part (bad bytes must not be resumed)."""
        self.path.unlink(missing_ok=True)
        self.validator_path.unlink(missing_ok=True)
        self.close()

    def close(self) -> None:
        """Release the lock; a part with bytes stays for the next attempt."""
        if self._handle.closed:
            return
        if self.size == 0:
            self.path.unlink(missing_ok=True)
            self.validator_path.unlink(missing_ok=True)
        self._handle.close()

    def _update(self, chunk: bytes) -> None:
        self.sha256.update(chunk)
        if self.sha512 is not None:
            self.sha512.update(chunk)
        self.size += len(chunk)


class _Reporter:
    """Feeds a Progress once per download: never backwards, whatever restarts happen."""

    def __init__(self, progress: Progress, description: str) -> None:
        self.progress = progress
        self.description = description
        self.started = False
        self.reported = 0

    def begin(self, total: int | None) -> None:
        if not self.started:
            self.progress.start(self.description, total)
            self.started = True

    def reach(self, size: int) -> None:
        if size > self.reported:
            self.progress.advance(size - self.reported)
            self.reported = size

    def end(self) -> None:
        if self.started:
            self.progress.finish()


class _Transient(Exception):
    """An attempt failed in a way a later attempt may not."""

    def __init__(
        self, reason: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class _Restart(Exception):
    """The part was reset; ask again at once without counting a failure."""


class _Mismatch(Exception):
    """The bytes are not the ones expected."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


# The downloader ---------------------------------------------------------------------


class Downloader:
    """Fetches URLs with retries, resume and verification (one sync httpx client)."""

    def __init__(
        self,
        client: httpx.Client | None = None,
        *,
        connect_timeout_seconds: float = 15.0,
        read_timeout_seconds: float = 60.0,
        retries: int = 5,
        backoff_seconds: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        chunk_bytes: int = 1 << 20,
    ) -> None:
        self._owns_client = client is None
        self.client = (
            client
            if client is not None
            else httpx.Client(
                follow_redirects=True, headers={"User-Agent": USER_AGENT}, verify=tls_context()
            )
        )
        self.connect_timeout_seconds = connect_timeout_seconds
        self.read_timeout_seconds = read_timeout_seconds
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.sleep = sleep
        self.chunk_bytes = chunk_bytes
        self._timeout = httpx.Timeout(
            read_timeout_seconds,
            connect=connect_timeout_seconds,
            pool=connect_timeout_seconds,
        )

    def close(self) -> None:
        """Close the HTTP client if this downloader made it."""
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> Downloader:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # Public -------------------------------------------------------------------------

    def fetch(
        self,
        url: str,
        target: Path,
        *,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
        progress: Progress | None = None,
        description: str | None = None,
        expected_sha512: str | None = None,
    ) -> Fetched:
        """Download ``url`` to ``target``, resuming ``target.part``; verify, then rename.

        ``retries`` counts consecutive attempts that brought no new byte, so a link that
        drops every few megabytes still finishes. ``expected_sha512`` (hex) is for
        registries that publish only SHA-512 (npm ``integrity``).
        """
        expected_sha256 = expected_sha256.lower() if expected_sha256 else None
        expected_sha512 = expected_sha512.lower() if expected_sha512 else None
        reporter = _Reporter(progress or NullProgress(), description or target.name)
        if target.is_file():
            done = self._verified_existing(target, expected_sha256, expected_size, expected_sha512)
            if done is not None:
                log.info("%s is already downloaded and verified", target)
                reporter.begin(done.size)
                reporter.reach(done.size)
                reporter.end()
                return done
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            part = _PartFile(target, sha512=expected_sha512 is not None)
        except OSError as exc:
            raise disk_write_error(url, target, exc) from exc
        try:
            self._download(url, part, expected_size, reporter)
            problems = _problems(part, expected_sha256, expected_size, expected_sha512)
            if problems:
                raise _Mismatch(problems)
            fetched = Fetched(target, part.sha256.hexdigest(), part.size)
            part.commit(target)
        except _Mismatch as exc:
            part.discard()
            raise DownloadError(
                f"{url} is not the expected file: {exc}; the partial download was deleted",
                url=url,
                expected_sha256=expected_sha256,
                expected_size=expected_size,
            ) from None
        except OSError as exc:
            raise disk_write_error(url, target, exc) from exc
        finally:
            part.close()
            reporter.end()
        log.info("downloaded %s (%d bytes, sha256 %s)", url, fetched.size, fetched.sha256)
        return fetched

    def content_length(self, url: str) -> int | None:
        """Size of ``url`` from a HEAD request (redirects followed); None if not told."""
        response = self._request("HEAD", url, {"Accept-Encoding": "identity"}, allow={405, 501})
        if response.status_code in (405, 501):
            return None
        length = response.headers.get("Content-Length")
        return int(length) if length is not None and length.isdigit() else None

    def get_json(self, url: str, headers: dict[str, str] | None = None) -> Any:
        """GET a small JSON document, with retries."""
        response = self._request("GET", url, {"Accept": "application/json", **(headers or {})})
        try:
            return response.json()
        except ValueError as exc:
            kind = response.headers.get("Content-Type", "no content type")
            raise DownloadError(
                f"{url} did not answer JSON ({kind})", url=url, status=response.status_code
            ) from exc

    # Internals ----------------------------------------------------------------------

    def _verified_existing(
        self,
        target: Path,
        sha256: str | None,
        size: int | None,
        sha512: str | None,
    ) -> Fetched | None:
        """The target already there, if a hash proves it is the right one."""
        if sha256 is None and sha512 is None:
            return None
        if size is not None and target.stat().st_size != size:
            return None
        digest256, digest512, length = hashlib.sha256(), hashlib.sha512(), 0
        with target.open("rb") as handle:
            while chunk := handle.read(self.chunk_bytes):
                digest256.update(chunk)
                if sha512 is not None:
                    digest512.update(chunk)
                length += len(chunk)
        if sha256 is not None and digest256.hexdigest() != sha256:
            return None
        if sha512 is not None and digest512.hexdigest() != sha512:
            return None
        return Fetched(target, digest256.hexdigest(), length)

    def _download(
        self, url: str, part: _PartFile, expected_size: int | None, reporter: _Reporter
    ) -> None:
        """Attempt until the part holds the whole body, or give up."""
        if expected_size is not None:
            # Hashing a big part takes a while: show it on the bar of the download.
            reporter.begin(expected_size)
            resumed = part.hash_existing(self.chunk_bytes, reporter.reach)
        else:
            resumed = part.hash_existing(self.chunk_bytes, lambda size: None)
        if expected_size is not None and resumed > expected_size:
            log.info("%s is larger than expected; starting again", part.path)
            part.reset()
        elif expected_size is not None and resumed == expected_size:
            log.info("%s is already complete; verifying", part.path)
            reporter.begin(expected_size)
            reporter.reach(resumed)
            return
        elif resumed:
            log.info("resuming %s at byte %d", url, resumed)
        failures = 0
        high_water = part.size
        while True:
            try:
                self._attempt(url, part, expected_size, reporter)
                return
            except _Restart:
                continue
            except _Transient as exc:
                if part.size > high_water:
                    high_water, failures = part.size, 0
                failures += 1
                if failures > self.retries:
                    kept = (
                        f"; {part.size} bytes are kept in {part.path} and the next try resumes"
                        if part.size
                        else ""
                    )
                    raise DownloadError(
                        f"Download of {url} failed after {_attempts(failures)}: {exc.reason}{kept}",
                        url=url,
                        status=exc.status,
                    ) from exc.__cause__
                delay = backoff_delay(failures, self.backoff_seconds, exc.retry_after)
                log.warning(
                    "%s: %s; retry %d of %d in %.1f s from byte %d",
                    url,
                    exc.reason,
                    failures,
                    self.retries,
                    delay,
                    part.size,
                )
                self.sleep(delay)

    def _attempt(
        self, url: str, part: _PartFile, expected_size: int | None, reporter: _Reporter
    ) -> None:
        """One GET from the current end of the part."""
        headers = {"Accept-Encoding": "identity"}
        offset = part.size
        if offset:
            headers["Range"] = f"bytes={offset}-"
            validator = part.validator
            if validator is not None:
                headers["If-Range"] = validator
        try:
            with self.client.stream(
                "GET", url, headers=headers, timeout=self._timeout, follow_redirects=True
            ) as response:
                self._receive(url, response, part, expected_size, reporter)
        except httpx.TimeoutException as exc:
            raise _Transient(self._timeout_reason(url, exc)) from exc
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise _Transient(f"the connection dropped ({type(exc).__name__}: {exc})") from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise DownloadError(f"Cannot download {url}: {exc}", url=url) from exc

    def _receive(
        self,
        url: str,
        response: httpx.Response,
        part: _PartFile,
        expected_size: int | None,
        reporter: _Reporter,
    ) -> None:
        status = response.status_code
        offset = part.size
        if status == 416 and offset:
            _, _, total = parse_content_range(response.headers.get("Content-Range"))
            if total == offset or (total is None and expected_size == offset):
                reporter.begin(offset)
                reporter.reach(offset)
                return
            log.info("%s: range from byte %d refused (size %s); starting again", url, offset, total)
            part.reset()
            raise _Restart
        if status == 206:
            first, last, total = parse_content_range(response.headers.get("Content-Range"))
            if first != offset:
                part.reset()
                raise _Transient(f"the server sent a range starting at {first}, not {offset}")
            body = last - first + 1 if last is not None and first is not None else None
        elif status == 200:
            if offset:
                log.info("%s: the server sent the whole file; starting again from zero", url)
                part.reset()
            part.set_validator(resume_validator(response.headers))
            length = response.headers.get("Content-Length")
            body = int(length) if length is not None and length.isdigit() else None
            total = body
        else:
            self._raise_for_status(url, response)
            raise DownloadError(
                f"Unexpected answer from {url}: {describe_status(status)}", url=url, status=status
            )
        if expected_size is not None and total is not None and total != expected_size:
            raise _Mismatch([f"{expected_size} bytes expected, the server has {total}"])
        reporter.begin(expected_size if expected_size is not None else total)
        reporter.reach(part.size)
        start = part.size
        # Without a chunk size httpx hands over bytes as they arrive: nothing received
        # before a drop is lost in a buffer, so the resume starts exactly where it stopped.
        for chunk in response.iter_raw():
            part.append(chunk)
            if part.size - reporter.reported >= self.chunk_bytes:
                reporter.reach(part.size)
            if expected_size is not None and part.size > expected_size:
                raise _Mismatch([f"{expected_size} bytes expected, got more"])
        reporter.reach(part.size)
        received = part.size - start
        if body is not None and received < body:
            raise _Transient(f"the connection closed after {received} of {body} bytes")

    def _request(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        *,
        allow: frozenset[int] | set[int] = frozenset(),
    ) -> httpx.Response:
        """A small request (metadata, HEAD) with the same retry policy as downloads."""
        failures = 0
        while True:
            try:
                try:
                    response = self.client.request(
                        method, url, headers=headers, timeout=self._timeout, follow_redirects=True
                    )
                except httpx.TimeoutException as exc:
                    raise _Transient(self._timeout_reason(url, exc)) from exc
                except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                    raise _Transient(
                        f"the connection failed ({type(exc).__name__}: {exc})"
                    ) from exc
                except (httpx.HTTPError, httpx.InvalidURL) as exc:
                    raise DownloadError(f"Cannot fetch {url}: {exc}", url=url) from exc
                if response.is_success or response.status_code in allow:
                    return response
                self._raise_for_status(url, response)
                raise DownloadError(
                    f"Unexpected answer from {url}: {describe_status(response.status_code)}",
                    url=url,
                    status=response.status_code,
                )
            except _Transient as exc:
                failures += 1
                if failures > self.retries:
                    raise DownloadError(
                        f"{method} {url} failed after {_attempts(failures)}: {exc.reason}",
                        url=url,
                        status=exc.status,
                    ) from exc.__cause__
                delay = backoff_delay(failures, self.backoff_seconds, exc.retry_after)
                log.warning("%s %s: %s; retrying in %.1f s", method, url, exc.reason, delay)
                self.sleep(delay)

    @staticmethod
    def _raise_for_status(url: str, response: httpx.Response) -> None:
        """Fatal statuses raise DownloadError, passing ones _Transient; others return."""
        status = response.status_code
        if status >= 500 or status in RETRIED_STATUSES:
            raise _Transient(
                f"the server answered {describe_status(status)}",
                status=status,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if 400 <= status < 500:
            raise DownloadError(f"{url} answered {describe_status(status)}", url=url, status=status)

    def _timeout_reason(self, url: str, exc: httpx.TimeoutException) -> str:
        host = urlsplit(url).netloc or url
        if isinstance(exc, httpx.ConnectTimeout):
            return (
                f"could not connect to {host} within {self.connect_timeout_seconds:g} s"
                " (connect timeout)"
            )
        if isinstance(exc, httpx.ReadTimeout):
            return f"no data from {host} for {self.read_timeout_seconds:g} s (read timeout)"
        return f"timed out talking to {host} ({type(exc).__name__})"


def disk_write_error(url: str, target: Path, exc: OSError) -> ModelRuntimeError:
    """The error for a failed write while downloading: a full disk is ResourceExhausted."""
    if exc.errno == errno.ENOSPC:
        return ResourceExhausted(
            f"The disk holding {target} is full; free some space and pull again"
            " (a partial download is kept and will resume)"
        )
    return DownloadError(f"Cannot write {target} while downloading {url}: {exc}", url=url)


def _attempts(count: int) -> str:
    return "1 attempt" if count == 1 else f"{count} attempts"


def _problems(
    part: _PartFile, sha256: str | None, size: int | None, sha512: str | None
) -> list[str]:
    problems = []
    if size is not None and part.size != size:
        problems.append(f"{size} bytes expected, got {part.size}")
    if sha256 is not None and (got := part.sha256.hexdigest()) != sha256:
        problems.append(f"sha256 {sha256} expected, got {got}")
    if (
        sha512 is not None
        and part.sha512 is not None
        and (got := part.sha512.hexdigest()) != sha512
    ):
        problems.append(f"sha512 {sha512} expected, got {got}")
    return problems
