"""The web app's static files, read once and named by one content hash."""

from __future__ import annotations

import hashlib
import json
import mimetypes
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

ASSETS_PLACEHOLDER = b"{{assets}}"
SHELL_PLACEHOLDER = b'"{{shell}}"'
HASH_LENGTH = 16
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
}
ROOT_FILES = ("index.html", "sw.js", "manifest.webmanifest")
"""Files served at the root, with the bundle's URL filled in, and never cached for long."""


@dataclass(frozen=True)
class Asset:
    """One static file."""

    content: bytes
    """The file's bytes, as shipped."""
    media_type: str
    """Its Content-Type."""


@dataclass(frozen=True)
class Bundle:
    """Every static file of the web app, and the hash that names this set."""

    hash: str
    """Hex content hash over every file's path and bytes."""
    assets: dict[str, Asset]
    """By path relative to ``static/`` (``js/app.js``)."""

    @property
    def prefix(self) -> str:
        """The URL every asset is served under (``/assets/<hash>``)."""
        return f"/assets/{self.hash}"

    def root_file(self, name: str) -> bytes:
        """``index.html``, ``sw.js`` or ``manifest.webmanifest`` with the bundle filled in.

        The service worker also gets the list of files it pre-caches: the app shell,
        which is every asset (none of them holds user data).
        """
        content = self.assets[name].content.replace(ASSETS_PLACEHOLDER, self.prefix.encode())
        if name == "sw.js":
            shell = ["/", *(f"{self.prefix}/{path}" for path in self.shell_paths())]
            content = content.replace(SHELL_PLACEHOLDER, json.dumps(shell).encode())
        return content

    def shell_paths(self) -> list[str]:
        """The assets a service worker keeps for offline start (not the root files)."""
        return sorted(path for path in self.assets if path not in ROOT_FILES)


def _walk(folder: Traversable, prefix: str = "") -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for entry in folder.iterdir():
        if entry.name.startswith(".") or entry.name == "__pycache__":
            continue
        path = f"{prefix}{entry.name}"
        if entry.is_dir():
            files.update(_walk(entry, path + "/"))
        else:
            files[path] = entry.read_bytes()
    return files


def media_type_of(path: str) -> str:
    """The Content-Type a static file is served with."""
    suffix = "." + path.rsplit(".", 1)[-1] if "." in path else ""
    return MEDIA_TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"


def load_bundle(folder: Traversable | None = None) -> Bundle:
    """Read ``server/web/static`` (or ``folder``) and hash it."""
    root = folder if folder is not None else resources.files("server.web").joinpath("static")
    files = _walk(root)
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode() + b"\0")
        digest.update(hashlib.sha256(files[path]).digest())
    return Bundle(
        hash=digest.hexdigest()[:HASH_LENGTH],
        assets={path: Asset(content, media_type_of(path)) for path, content in files.items()},
    )
