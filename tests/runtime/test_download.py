"""Resumable, verified downloads against a local HTTP server (no internet)."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import random
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from runtime.download import (
    Downloader,
    DownloadError,
    NullProgress,
    backoff_delay,
    check_free_space,
    disk_write_error,
    megabytes,
    parse_content_range,
    parse_retry_after,
    space_shortfall,
)
from runtime.errors import ModelBusy, ResourceExhausted
from tests.runtime.httpserver import (  # noqa: F401 (fixtures)
    LocalServer,
    http_client_fixture,
    http_server_fixture,
)

DATA = random.Random(7).randbytes(300_000)
SHA = hashlib.sha256(DATA).hexdigest()
CHUNK = 16_384


class RecordingProgress:
    """A Progress that remembers every call."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object, object]] = []

    def start(self, description: str, total: int | None) -> None:
        self.events.append(("start", description, total))

    def advance(self, amount: int) -> None:
        assert amount > 0
        self.events.append(("advance", amount, None))

    def finish(self) -> None:
        self.events.append(("finish", None, None))

    @property
    def advanced(self) -> int:
        return sum(int(amount) for kind, amount, _ in self.events if kind == "advance")  # type: ignore[call-overload]

    @property
    def kinds(self) -> list[str]:
        """Event kinds with consecutive advances merged."""
        merged: list[str] = []
        for kind, _, _ in self.events:
            if not (kind == "advance" and merged and merged[-1] == "advance"):
                merged.append(kind)
        return merged


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_downloader(
    sleeps: list[float], http_client: httpx.Client
) -> Iterator[Callable[..., Downloader]]:
    """Downloaders on the shared client with a recorded sleep and small chunks."""
    made: list[Downloader] = []

    def make(**options: object) -> Downloader:
        settings: dict[str, object] = {
            "client": http_client,
            "sleep": sleeps.append,
            "chunk_bytes": CHUNK,
            "retries": 3,
        }
        settings.update(options)
        downloader = Downloader(**settings)  # type: ignore[arg-type]
        made.append(downloader)
        return downloader

    yield make
    for downloader in made:
        downloader.close()


def gets(server: LocalServer, path: str) -> list[tuple[str | None, int, int]]:
    """(Range header, status, body bytes) of each GET of a path."""
    return [(r.headers.get("range"), r.status, r.body_bytes) for r in server.requests_for(path)]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- pure helpers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bytes 0-99/1000", (0, 99, 1000)),
        ("bytes 100-999/*", (100, 999, None)),
        ("bytes */1000", (None, None, 1000)),
        ("Bytes  5-5/6", (5, 5, 6)),
        ("items 0-1/2", (None, None, None)),
        (None, (None, None, None)),
        ("", (None, None, None)),
    ],
)
def test_parse_content_range(
    value: str | None, expected: tuple[int | None, int | None, int | None]
) -> None:
    assert parse_content_range(value) == expected


@pytest.mark.parametrize(
    ("failures", "backoff", "retry_after", "expected"),
    [
        (1, 1.0, None, 1.0),
        (2, 1.0, None, 2.0),
        (4, 1.0, None, 8.0),
        (20, 1.0, None, 60.0),
        (1, 0.5, 10.0, 10.0),
        (3, 1.0, 1.0, 4.0),
        (1, 1.0, 10_000.0, 300.0),
        (1, 0.0, None, 0.0),
    ],
)
def test_backoff_delay(
    failures: int, backoff: float, retry_after: float | None, expected: float
) -> None:
    assert backoff_delay(failures, backoff, retry_after) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("5", 5.0), (" 12 ", 12.0), ("Wed, 21 Oct 2015 07:28:00 GMT", None), (None, None)],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


@pytest.mark.parametrize(
    ("needed", "free", "margin", "missing"),
    [
        (0, 0, 0, 0),
        (100, 1000, 100, 0),
        (900, 1000, 100, 0),
        (901, 1000, 100, 1),
        (5000, 1000, 100, 4100),
        (0, 50, 100, 50),
    ],
)
def test_space_shortfall(needed: int, free: int, margin: int, missing: int) -> None:
    assert space_shortfall(needed, free, margin) == missing


@pytest.mark.parametrize(
    ("size", "round_up", "expected"),
    [(0, True, 0), (1, True, 1), (1_000_000, True, 1), (1_000_001, True, 2), (1_999_999, False, 1)],
)
def test_megabytes(size: int, round_up: bool, expected: int) -> None:
    assert megabytes(size, round_up=round_up) == expected


def test_a_full_disk_is_resource_exhausted(tmp_path: Path) -> None:
    full = disk_write_error("https://x/m", tmp_path / "m", OSError(errno.ENOSPC, "No space left"))
    assert isinstance(full, ResourceExhausted)
    assert "is full" in full.detail
    other = disk_write_error("https://x/m", tmp_path / "m", OSError(errno.EACCES, "Denied"))
    assert isinstance(other, DownloadError)
    assert other.url == "https://x/m"


def test_check_free_space_passes_when_there_is_room(tmp_path: Path) -> None:
    asked: list[Path] = []

    def free(folder: Path) -> int:
        asked.append(folder)
        return 2_000_000

    check_free_space(tmp_path, 1_000_000, margin_bytes=0, free_bytes=free)
    check_free_space(tmp_path, 1_000_000, margin_bytes=1_000_000, free_bytes=free)  # just fits
    assert asked == [tmp_path, tmp_path]  # it did look at the disk
    with pytest.raises(ResourceExhausted):  # one byte more does not fit
        check_free_space(tmp_path, 1_000_001, margin_bytes=1_000_000, free_bytes=free)


def test_check_free_space_says_needed_and_free_in_mb(tmp_path: Path) -> None:
    asked: list[Path] = []

    def free(folder: Path) -> int:
        asked.append(folder)
        return 300_000_000

    with pytest.raises(ResourceExhausted) as caught:
        check_free_space(
            tmp_path / "not" / "yet", 491_400_064, margin_bytes=100 << 20, free_bytes=free
        )
    detail = caught.value.detail
    assert "492 MB needed" in detail
    assert "105 MB margin" in detail
    assert "300 MB free" in detail
    assert caught.value.fields["needed_mb"] == 492
    assert caught.value.fields["free_mb"] == 300
    assert asked == [tmp_path]  # the nearest folder that exists


def test_check_free_space_on_the_real_disk(tmp_path: Path) -> None:
    check_free_space(tmp_path, 1, margin_bytes=0)
    with pytest.raises(ResourceExhausted):
        check_free_space(tmp_path, 1 << 60)


# --- downloads --------------------------------------------------------------------------


def test_fetch_downloads_verifies_and_reports_progress(
    http_server: LocalServer, make_downloader: Callable[..., Downloader], tmp_path: Path
) -> None:
    http_server.add("/model.bin", DATA)
    progress = RecordingProgress()
    target = tmp_path / "model.bin"

    fetched = make_downloader().fetch(
        http_server.url("/model.bin"), target, expected_sha256=SHA, progress=progress
    )

    assert (fetched.path, fetched.sha256, fetched.size) == (target, SHA, len(DATA))
    assert target.read_bytes() == DATA
    assert leftovers(tmp_path) == ["model.bin"]
    assert progress.events[0] == ("start", "model.bin", len(DATA))
    assert progress.kinds == ["start", "advance", "finish"]
    assert progress.advanced == len(DATA)
    assert gets(http_server, "/model.bin") == [(None, 200, len(DATA))]


def test_fetch_without_expectations_still_hashes(
    http_server: LocalServer, make_downloader: Callable[..., Downloader], tmp_path: Path
) -> None:
    http_server.add("/f", DATA, etag=False)
    fetched = make_downloader().fetch(http_server.url("/f"), tmp_path / "sub" / "f")
    assert (fetched.sha256, fetched.size) == (SHA, len(DATA))


def test_an_empty_file_downloads(
    http_server: LocalServer, make_downloader: Callable[..., Downloader], tmp_path: Path
) -> None:
    http_server.add("/empty", b"")
    fetched = make_downloader().fetch(http_server.url("/empty"), tmp_path / "e", expected_size=0)
    assert (fetched.size, fetched.sha256) == (0, hashlib.sha256(b"").hexdigest())
    assert leftovers(tmp_path) == ["e"]


def test_resuming_a_part_of_known_size_shows_the_hashing_on_the_bar(
    http_server: LocalServer, make_downloader: Callable[..., Downloader], tmp_path: Path
) -> None:
    http_server.add("/m", DATA)
    (tmp_path / "m.part").write_bytes(DATA[:50_000])
    progress = RecordingProgress()
    make_downloader().fetch(
        http_server.url("/m"), tmp_path / "m", expected_size=len(DATA), progress=progress
    )
    assert progress.events[0] == ("start", "m", len(DATA))
    assert progress.kinds == ["start", "advance", "finish"]
    assert progress.advanced == len(DATA)
    assert gets(http_server, "/m") == [("bytes=50000-", 206, len(DATA) - 50_000)]


def test_fetch_resumes_after_a_drop_within_one_call(
    http_server: LocalServer,
    make_downloader: Callable[..., Downloader],
    sleeps: list[float],
    tmp_path: Path,
) -> None:
    http_server.add("/m", DATA, drop_after_bytes=100_000, drop_times=1)
    progress = RecordingProgress()

    fetched = make_downloader(backoff_seconds=0.5).fetch(
        http_server.url("/m"), tmp_path / "m", expected_sha256=SHA, progress=progress
    )

    assert fetched.sha256 == SHA
    assert gets(http_server, "/m") == [
        (None, 200, 100_000),
        ("bytes=100000-", 206, len(DATA) - 100_000),
    ]
    assert sleeps == [0.5]
    assert progress.kinds == ["start", "advance", "finish"]
    assert progress.advanced == len(DATA)


def test_a_part_left_by_a_failed_call_is_resumed_by_the_next(
    http_server: LocalServer, make_downloader: Callable[..., Downloader], tmp_path: Path
) -> None:
    http_server.add("/m", DATA, drop_after_bytes=120_000, drop_times=1)
    target = tmp_path / "m"

    with pytest.raises(DownloadError) as caught:
        make_downloader(retries=0).fetch(http_server.url("/m"), target, expected_sha256=SHA)
    assert "120000 bytes are kept" in caught.value.detail
    assert (tmp_path / "m.part").stat().st_size == 120_000
    assert not target.exists()

    # A new downloader, as after a restart of the process.
    progress = RecordingProgress()
    fetched = make_downloader().fetch(
        http_server.url("/m"), target, expected_sha256=SHA, progress=progress
    )

    assert fetched.sha256 == SHA
    second = http_server.requests_for("/m")[1]
    assert second.headers["range"] == "bytes=120000-"
    assert "if-range" in second.headers
    assert (second.status, second.body_bytes) == (206, len(DATA) - 120_000)
    assert progress.events[0] == ("start", "m", len(DATA))
    assert progress.events[1] == ("advance", 120_000, None)  # the resumed bytes, once
    assert progress.advanced == len(DATA)
    assert leftovers(tmp_path) == ["m"]


def test_a_server_that_ignores_range_restarts_from_zero(
    http_server: LocalServer, make_downloader: Callable[..., Downloader], tmp_path: Path
) -> None:
    http_server.add("/m", DATA, drop_after_bytes=100_000, drop_times=1, ignore_range=True)
    progress = RecordingProgress()

    fetched = make_downloader().fetch(
        http_server.url("/m"), tmp_path / "m", expected_sha256=SHA, progress=progress
    )

    assert fetched.sha256 == SHA
    assert gets(http_server, "/m") == [(None, 200, 100_000), ("bytes=100000-", 200, len(DATA))]
    assert progress.advanced == len(DATA)  # never counts bytes twice


def test_a_file_changed_on_the_server_restarts_the_part(
    http_server: LocalServer, make_downloader: Callable[..., Downloader], tmp_path: Path
) -> None:
    http_server.add("/m", b"old" * 50_000, drop_after_bytes=60_000, drop_times=1)
    with pytest.raises(DownloadError):
        make_downloader(retries=0).fetch(http_server.url("/m"), tmp_path / "m")
    http_server.add("/m", DATA)

    fetched = make_downloader().fetch(http_server.url("/m"), tmp_path / "m")

    # If-Range carried the old ETag: the server sent the new file whole.
    assert fetched.sha256 == SHA
    assert gets(http_server, "/m")[-1] == ("bytes=60000-", 200, len(DATA))


def test_a_complete_part_is_verified_and_renamed_after_416(
    http_server: LocalServer, make_downloader: Callable[..., Downloader], tmp_path: Path
) -> None:
    http_server.add("/m", DATA)
    (tmp_path / "m.part").write_bytes(DATA)

    fetched = make_downloader().fetch(http_server.url("/m"), tmp_path / "m", expected_sha256=SHA)

    assert fetched.sha256 == SHA
    assert gets(http_server, "/m") == [(f"bytes={len(DATA)}-", 416, 0)]
    assert leftovers(tmp_path) == ["m"]


def test_a_part_larger_than_the_file_restarts(
    http_server: LocalServer, make_downloader: Callable[..., Downloader], tmp_path: Path
) -> None:
    http_server.add("/m", DATA)
    (tmp_path / "m.part").write_bytes(DATA + b"junk")

    fetched = make_downloader().fetch(http_server.url("/m"), tmp_path / "m")

    assert fetched.sha256 == SHA
    assert gets(http_server, "/m") == [(f"bytes={len(DATA) + 4}-", 416, 0), (None, 200, len(DATA))]


def test_a_complete_part_of_known_size_needs_no_request(
    http_server: LocalServer, make_downloader: Callable[..., Downloader], tmp_path: Path
) -> None:
    (tmp_path / "m.part").write_bytes(DATA)
    progress = RecordingProgress()

    fetched = make_downloader().fetch(
        http_server.url("/m"),
        tmp_path / "m",
        expected_sha256=SHA,
        expected_size=len(DATA),
        progress=progress,
    )

    assert fetched.sha256 == SHA
    assert http_server.requests == []
    assert progress.advanced == len(DATA)


def test_a_verified_target_is_not_downloaded_again(
    http_server: LocalServer, make_downloader: Callable[..., Downloader], tmp_path: Path
) -> None:
    (tmp_path / "m").write_bytes(DATA)
    fetched = make_downloader().fetch(http_server.url("/m"), tmp_path / "m", expected_sha256=SHA)
    assert fetched.size == len(DATA)
    assert http_server.requests == []


@pytest.mark.parametrize(
    ("status", "words"), [(404, "not found"), (403, "forbidden"), (410, "gone")]
)
def test_missing_or_forbidden_fails_at_once(
    http_server: LocalServer,
    make_downloader: Callable[..., Downloader],
    sleeps: list[float],
    tmp_path: Path,
    status: int,
    words: str,
) -> None:
    http_server.add("/m", DATA, status=status)
    url = http_server.url("/m")

    with pytest.raises(DownloadError) as caught:
        make_downloader(retries=5).fetch(url, tmp_path / "m")

    assert caught.value.status == status
    assert caught.value.url == url
    assert url in caught.value.detail
    assert f"HTTP {status} {words}" in caught.value.detail
    assert caught.value.code == "download-failed"
    assert len(http_server.requests_for("/m")) == 1
    assert sleeps == []


def test_a_server_error_then_success(
    http_server: LocalServer,
    make_downloader: Callable[..., Downloader],
    sleeps: list[float],
    tmp_path: Path,
) -> None:
    http_server.add("/m", DATA, fail_times=1, fail_status=500)
    fetched = make_downloader().fetch(http_server.url("/m"), tmp_path / "m", expected_sha256=SHA)
    assert fetched.sha256 == SHA
    assert [status for _, status, _ in gets(http_server, "/m")] == [500, 200]
    assert sleeps == [1.0]


def test_server_errors_give_up_after_the_retries(
    http_server: LocalServer,
    make_downloader: Callable[..., Downloader],
    sleeps: list[float],
    tmp_path: Path,
) -> None:
    http_server.add("/m", DATA, status=503)
    with pytest.raises(DownloadError) as caught:
        make_downloader(retries=2).fetch(http_server.url("/m"), tmp_path / "m")
    assert caught.value.status == 503
    assert "failed after 3 attempts: the server answered HTTP 503" in caught.value.detail
    assert leftovers(tmp_path) == []  # an empty part is not kept
    assert len(http_server.requests_for("/m")) == 3
    assert sleeps == [1.0, 2.0]


def test_a_link_that_keeps_dropping_finishes_while_it_makes_progress(
    http_server: LocalServer,
    make_downloader: Callable[..., Downloader],
    sleeps: list[float],
    tmp_path: Path,
) -> None:
    http_server.add("/m", DATA, drop_after_bytes=70_000)
    fetched = make_downloader(retries=1).fetch(http_server.url("/m"), tmp_path / "m")
    assert fetched.sha256 == SHA
    assert len(http_server.requests_for("/m")) == 5  # 4 drops of 70 kB, then the last 20 kB
    assert sleeps == [1.0] * 4  # progress resets the count of failures


def test_a_link_that_drops_and_ignores_range_gives_up(
    http_server: LocalServer, make_downloader: Callable[..., Downloader], tmp_path: Path
) -> None:
    http_server.add("/m", DATA, drop_after_bytes=70_000, ignore_range=True)
    with pytest.raises(DownloadError) as caught:
        make_downloader(retries=2).fetch(http_server.url("/m"), tmp_path / "m")
    assert "dropped" in caught.value.detail or "closed" in caught.value.detail
    # The first attempt made progress but failed too; the two after it brought nothing new.
    assert [r.status for r in http_server.requests_for("/m")] == [200, 200, 200]


def test_a_hash_mismatch_deletes_the_part_and_says_expected_and_got(
    http_server: LocalServer, make_downloader: Callable[..., Downloader], tmp_path: Path
) -> None:
    http_server.add("/m", DATA)
    wrong = "0" * 64
    with pytest.raises(DownloadError) as caught:
        make_downloader().fetch(http_server.url("/m"), tmp_path / "m", expected_sha256=wrong)
    assert f"sha256 {wrong} expected, got {SHA}" in caught.value.detail
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("delta", [-1, 1])
def test_a_size_mismatch_deletes_the_part(
    http_server: LocalServer, make_downloader: Callable[..., Downloader], tmp_path: Path, delta: int
) -> None:
    http_server.add("/m", DATA)
    expected = len(DATA) + delta
    with pytest.raises(DownloadError) as caught:
        make_downloader().fetch(http_server.url("/m"), tmp_path / "m", expected_size=expected)
    assert f"{expected} bytes expected, the server has {len(DATA)}" in caught.value.detail
    assert leftovers(tmp_path) == []


def test_a_size_mismatch_without_content_length_is_caught_after_streaming(
    http_server: LocalServer, make_downloader: Callable[..., Downloader], tmp_path: Path
) -> None:
    http_server.add("/m", DATA)
    (tmp_path / "m.part").write_bytes(DATA[:1000])
    with pytest.raises(DownloadError) as caught:
        make_downloader().fetch(http_server.url("/m"), tmp_path / "m", expected_size=2000)
    # The 206 says the file has len(DATA) bytes: fail before streaming 300 kB.
    assert "2000 bytes expected" in caught.value.detail
    assert leftovers(tmp_path) == []


def test_a_read_timeout_names_the_timeout(
    http_server: LocalServer,
    make_downloader: Callable[..., Downloader],
    sleeps: list[float],
    tmp_path: Path,
) -> None:
    http_server.add("/slow", DATA, stall_seconds=5)
    with pytest.raises(DownloadError) as caught:
        make_downloader(read_timeout_seconds=0.2, retries=1).fetch(
            http_server.url("/slow"), tmp_path / "slow"
        )
    assert "no data from 127.0.0.1" in caught.value.detail
    assert "for 0.2 s (read timeout)" in caught.value.detail
    assert sleeps == [1.0]


def test_a_refused_connection_is_retried_then_reported(
    make_downloader: Callable[..., Downloader], sleeps: list[float], tmp_path: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DownloadError) as caught:
        make_downloader(retries=2).fetch(f"http://127.0.0.1:{port}/m", tmp_path / "m")
    assert "connection" in caught.value.detail
    assert caught.value.status is None
    assert sleeps == [1.0, 2.0]


def test_redirects_are_followed(
    http_server: LocalServer, make_downloader: Callable[..., Downloader], tmp_path: Path
) -> None:
    http_server.add("/real", DATA)
    http_server.add("/alias", b"", redirect_to="/real")
    downloader = make_downloader()
    assert downloader.fetch(http_server.url("/alias"), tmp_path / "m").sha256 == SHA
    assert downloader.content_length(http_server.url("/alias")) == len(DATA)


def test_a_resume_through_a_redirect_keeps_the_range(
    http_server: LocalServer, make_downloader: Callable[..., Downloader], tmp_path: Path
) -> None:
    http_server.add("/real", DATA)
    http_server.add("/alias", b"", redirect_to="/real")
    (tmp_path / "m.part").write_bytes(DATA[:1000])
    fetched = make_downloader().fetch(http_server.url("/alias"), tmp_path / "m")
    assert fetched.sha256 == SHA
    assert gets(http_server, "/real") == [("bytes=1000-", 206, len(DATA) - 1000)]


def test_another_download_of_the_same_file_is_a_conflict(
    http_server: LocalServer, make_downloader: Callable[..., Downloader], tmp_path: Path
) -> None:
    http_server.add("/m", DATA)
    with (tmp_path / "m.part").open("wb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        with pytest.raises(ModelBusy):
            make_downloader().fetch(http_server.url("/m"), tmp_path / "m")
    assert make_downloader().fetch(http_server.url("/m"), tmp_path / "m").sha256 == SHA


def test_a_bad_url_fails_without_retrying(
    make_downloader: Callable[..., Downloader], sleeps: list[float], tmp_path: Path
) -> None:
    with pytest.raises(DownloadError):
        make_downloader().fetch("ftp://example.invalid/m", tmp_path / "m")
    assert sleeps == []


# --- metadata ---------------------------------------------------------------------------


def test_content_length(
    http_server: LocalServer, make_downloader: Callable[..., Downloader]
) -> None:
    http_server.add("/m", DATA)
    http_server.add("/gone", DATA, status=404)
    http_server.add("/nohead", DATA, status=405)
    downloader = make_downloader()
    assert downloader.content_length(http_server.url("/m")) == len(DATA)
    assert downloader.content_length(http_server.url("/nohead")) is None
    with pytest.raises(DownloadError) as caught:
        downloader.content_length(http_server.url("/gone"))
    assert caught.value.status == 404
    assert [r.method for r in http_server.requests] == ["HEAD", "HEAD", "HEAD"]


def test_get_json_retries_and_sends_headers(
    http_server: LocalServer, make_downloader: Callable[..., Downloader], sleeps: list[float]
) -> None:
    served = http_server.add_json("/doc", {"a": [1, 2]})
    served.fail_times = 2
    downloader = make_downloader()
    document = downloader.get_json(http_server.url("/doc"), headers={"Accept": "application/x"})
    assert document == {"a": [1, 2]}
    assert sleeps == [1.0, 2.0]
    assert http_server.requests[-1].headers["accept"] == "application/x"


def test_get_json_of_something_else_is_a_clear_error(
    http_server: LocalServer, make_downloader: Callable[..., Downloader]
) -> None:
    http_server.add("/page", b"<html></html>", content_type="text/html")
    with pytest.raises(DownloadError) as caught:
        make_downloader().get_json(http_server.url("/page"))
    assert "did not answer JSON (text/html)" in caught.value.detail


def test_a_downloader_with_its_own_client(http_server: LocalServer, tmp_path: Path) -> None:
    http_server.add("/m", DATA)
    with Downloader() as downloader:
        assert downloader.fetch(http_server.url("/m"), tmp_path / "m").sha256 == SHA
        assert downloader.client.headers["User-Agent"].startswith("edge-assistant")
    assert downloader.client.is_closed


def test_an_injected_client_is_left_open(http_client: httpx.Client) -> None:
    Downloader(http_client).close()
    assert not http_client.is_closed


def test_null_progress_accepts_everything_and_shows_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    progress = NullProgress()
    progress.start("x", None)
    progress.start("y", 10)
    progress.advance(1)
    progress.finish()
    assert capsys.readouterr() == ("", "")
