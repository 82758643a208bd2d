"""The image store: per user, content-addressed, quota, retention, GPS."""

from __future__ import annotations

import pytest

from assistant.clock import ManualClock
from assistant.errors import InvalidInput, NotFound, PayloadTooLarge
from assistant.services import Services
from assistant.store.blobs import BlobStore
from assistant.vision.images import ImageLibrary, StorePolicy
from hal.camera.images import ImageLimits
from hal.errors import UnreadableMedia
from tests.vision.pictures import canvas, encode, exif_photo, gps_of, with_rectangle


def library(services: Services, clock: ManualClock, **policy: object) -> ImageLibrary:
    return ImageLibrary(
        services.db,
        BlobStore(services.settings.blobs_dir / "images"),
        StorePolicy(**policy),  # type: ignore[arg-type]
        ImageLimits(),
        clock,
    )


@pytest.fixture
def two_users(services: Services) -> tuple[str, str]:
    first = services.auth.create_user("ann", "correct horse battery")
    second = services.auth.create_user("bob", "correct horse battery")
    return first.id, second.id


def picture(colour: tuple[int, int, int] = (255, 0, 0)) -> bytes:
    return encode(with_rectangle(canvas(64, 48), (0, 0, 10, 10), colour))


def test_images_belong_to_their_user(
    services: Services, clock: ManualClock, two_users: tuple[str, str]
) -> None:
    ann, bob = two_users
    store = library(services, clock)
    stored, created = store.put(ann, picture())
    assert created and (stored.width, stored.height, stored.media_type) == (64, 48, "image/png")
    assert store.get(ann, stored.id)[1] == picture()
    with pytest.raises(NotFound):
        store.get(bob, stored.id)
    with pytest.raises(NotFound):
        store.delete(bob, stored.id)
    assert store.list(bob).images == []


def test_the_same_bytes_are_kept_once(
    services: Services, clock: ManualClock, two_users: tuple[str, str]
) -> None:
    ann, bob = two_users
    store = library(services, clock)
    first, _ = store.put(ann, picture())
    again, created = store.put(ann, picture())
    assert not created and again.id == first.id
    theirs, created = store.put(bob, picture())
    assert created and theirs.id != first.id and theirs.sha256 == first.sha256
    blob = store.blobs.path(first.sha256)
    store.delete(ann, first.id)
    assert blob.exists()  # bob still has it
    store.delete(bob, theirs.id)
    assert not blob.exists()


def test_pages_go_newest_first(
    services: Services, clock: ManualClock, two_users: tuple[str, str]
) -> None:
    ann, _ = two_users
    store = library(services, clock)
    ids = []
    for shade in range(5):
        clock.advance(1)
        ids.append(store.put(ann, picture((255, shade * 40, 0)))[0].id)
    first = store.list(ann, limit=2)
    assert [i.id for i in first.images] == ids[::-1][:2]
    second = store.list(ann, limit=2, before=first.next_cursor)
    third = store.list(ann, limit=2, before=second.next_cursor)
    assert [i.id for i in second.images + third.images] == ids[::-1][2:]
    assert third.next_cursor is None
    with pytest.raises(InvalidInput):
        store.list(ann, limit=0)
    with pytest.raises(NotFound):
        store.list(ann, before="nope")


def test_the_quota_is_per_user(
    services: Services, clock: ManualClock, two_users: tuple[str, str]
) -> None:
    ann, bob = two_users
    size = len(picture())
    store = library(services, clock, quota_bytes=size + 10)
    store.put(ann, picture())
    with pytest.raises(PayloadTooLarge, match="Delete images"):
        store.put(ann, picture((0, 255, 0)))
    store.put(bob, picture((0, 255, 0)))
    assert store.used_bytes(ann) == size


def test_old_images_go_after_the_retention(
    services: Services, clock: ManualClock, two_users: tuple[str, str]
) -> None:
    ann, _ = two_users
    store = library(services, clock, retention_days=1.0)
    old, _ = store.put(ann, picture())
    clock.advance(86_400 + 1)
    fresh, _ = store.put(ann, picture((0, 0, 255)))  # storing prunes
    assert [i.id for i in store.list(ann).images] == [fresh.id]
    assert not store.blobs.path(old.sha256).exists()
    clock.advance(86_400 + 1)
    assert store.list(ann).images == []  # listing prunes too


def test_gps_is_stripped_unless_kept(
    services: Services, clock: ManualClock, two_users: tuple[str, str]
) -> None:
    ann, _ = two_users
    store = library(services, clock)
    photo = exif_photo(canvas(80, 60), orientation=6, gps=True)
    stripped, _ = store.put(ann, photo)
    assert not stripped.gps_kept
    assert gps_of(store.get(ann, stripped.id)[1]) == {}
    assert (stripped.width, stripped.height) == (80, 60)
    kept, _ = store.put(ann, photo, keep_gps=True)
    assert kept.gps_kept and gps_of(store.get(ann, kept.id)[1])


def test_only_images_are_stored(
    services: Services, clock: ManualClock, two_users: tuple[str, str]
) -> None:
    ann, _ = two_users
    with pytest.raises(UnreadableMedia):
        library(services, clock).put(ann, b"<html></html>")
