"""``assistant models``: the model catalogue and store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table
from rich.text import Text

from assistant.cli.common import (
    console,
    duration,
    fail,
    megabytes,
    plain,
    print_json,
    problem_detail,
    state,
)
from assistant.cli.progress import RichProgress
from assistant.errors import InvalidInput
from assistant.services import build_model_store
from runtime.engines import ENGINES, Capability
from runtime.modelstore import ModelStore, model_slug
from runtime.remote import probe

app = typer.Typer(
    help="List, pull, import, verify, convert and remove models.", no_args_is_help=True
)


@contextmanager
def open_store(ctx: typer.Context) -> Iterator[ModelStore]:
    """The model store of the configured data directory."""
    store = build_model_store(state(ctx).settings())
    try:
        yield store
    finally:
        store.close()


def _mb(size: int | None) -> str:
    return "?" if not size else f"{size / 1_000_000:,.0f} MB"


@app.command("list")
def list_models(
    ctx: typer.Context,
    installed: Annotated[bool, typer.Option("--installed", help="Only installed models.")] = False,
    profile: Annotated[
        str | None, typer.Option("--profile", "-p", help="Only the models of this profile.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The catalogue, with what is installed; profiles at the end."""
    with open_store(ctx) as store:
        manifest = store.manifest
        wanted = list(manifest.profile(profile).models) if profile else sorted(manifest.models)
        have = {m.id: m for m in store.installed()}
        extra = [m for m in have if m not in manifest.models and not profile]
        rows: list[dict[str, Any]] = []
        for model_id in [*wanted, *sorted(extra)]:
            entry = manifest.models.get(model_id)
            local = have.get(model_id)
            if installed and local is None:
                continue
            profiles_of = [p.name for p in manifest.profiles.values() if model_id in p.models]
            if local is not None:
                capability, engine = local.capability.value, local.engine
                size, description = local.size, local.description
            else:
                assert entry is not None
                capability, engine = entry.capability.value, entry.engine
                size = sum(f.size or 0 for f in entry.files)
                description = entry.description
            rows.append(
                {
                    "id": model_id,
                    "capability": capability,
                    "engine": engine,
                    "size": size,
                    "installed": local is not None,
                    "profiles": profiles_of,
                    "description": description,
                }
            )
        profiles = {p.name: p.description for p in manifest.profiles.values()}
    if as_json:
        print_json({"models": rows, "profiles": profiles})
        return
    # Narrow terminals get the essential columns; `models info ID` has the rest.
    wide = console.width >= 150
    table = Table()
    table.add_column("model", overflow="fold", min_width=20)  # whole, over lines if need be
    table.add_column("kind", no_wrap=True, min_width=6)
    table.add_column("engine", no_wrap=True, min_width=12)
    table.add_column("size", no_wrap=True, justify="right", min_width=8)
    table.add_column("installed", no_wrap=True, min_width=9)
    if wide:
        table.add_column("profiles", min_width=10)
        table.add_column("description", overflow="ellipsis", no_wrap=True, max_width=50)
    for row in rows:
        cells = [
            plain(row["id"]),
            plain(row["capability"]),
            plain(row["engine"]),
            plain(_mb(row["size"])),
            Text("yes", style="green") if row["installed"] else plain(""),
        ]
        if wide:
            cells += [plain(", ".join(row["profiles"])), plain(row["description"])]
        table.add_row(*cells)
    console.print(table)
    if not profile and not installed:
        for name, description in profiles.items():
            console.print(Text(name, style="bold"), Text(f": {description}"), sep="")


@app.command("pull")
def pull(
    ctx: typer.Context,
    model_ids: Annotated[list[str] | None, typer.Argument(help="Model ids (name:tag).")] = None,
    profile: Annotated[
        str | None, typer.Option("--profile", "-p", help="Pull every model of a profile.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Download again even if installed.")
    ] = False,
) -> None:
    """Download, verify and install models (resumable; skips what is installed)."""
    if not model_ids and not profile:
        raise fail("name a model id or --profile (see `assistant models list`)", code=2)
    with open_store(ctx) as store, RichProgress() as progress:
        ids = list(model_ids or [])
        if profile:
            ids += [m for m in store.manifest.profile(profile).models if m not in ids]
        for model_id in ids:
            already = store.get(model_id) is not None and not force
            model = store.pull(model_id, progress=progress, force=force)
            verb = "already installed" if already else "installed"
            console.print(f"[green]{verb}[/] {model.id} ({_mb(model.size)})", highlight=False)


@app.command("add")
def add(
    ctx: typer.Context,
    path: Annotated[
        Path | None,
        typer.Argument(help="A model file, or a folder of its files (none for remote engines)."),
    ] = None,
    model_id: Annotated[str, typer.Option("--id", help="Id to give it (name:tag).")] = "",
    capability: Annotated[
        Capability | None,
        typer.Option(help="What it does (a remote engine implies it).", show_default=False),
    ] = None,
    engine: Annotated[str, typer.Option(help=f"Engine: {', '.join(sorted(ENGINES))}.")] = "",
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="Engine parameter KEY=VALUE (VALUE is JSON or text); repeat."),
    ] = None,
    description: Annotated[str | None, typer.Option(help="One line about it.")] = None,
    memory_mb: Annotated[int | None, typer.Option(help="Memory estimate when loaded.")] = None,
    url: Annotated[
        str | None,
        typer.Option(
            help="Remote engines: http://HOST:PORT/v1 (openai) or tcp://HOST:PORT (wyoming_stt,"
            " wyoming_tts, wyoming_wake).",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="Remote engines: the server's model, voice or wake word (default: its own).",
            show_default=False,
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key", help="Remote engines: bearer token for the server.", show_default=False
        ),
    ] = None,
) -> None:
    """Import a model you already have (any GGUF, a Piper voice, a CTranslate2 folder...), or
    add an engine running elsewhere (`--engine openai --url http://laptop:8080/v1 --model M`,
    `--engine wyoming_stt --url tcp://laptop:10300`)."""
    if not model_id or not engine:
        raise fail("--id and --engine are required", code=2)
    params: dict[str, Any] = {}
    for item in param or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise fail(f"--param {item!r} is not KEY=VALUE", code=2)
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    spec = ENGINES.get(engine)
    if spec is not None and spec.remote:
        if path is not None or not url:
            raise fail(f"the {engine} engine runs elsewhere: give --url, and no PATH", code=2)
        params.update({"url": url, **({"model": model} if model else {})})
        if api_key:
            params["api_key"] = api_key
        with open_store(ctx) as store:
            added = store.add_remote(model_id, engine, params, description=description)
        checked = probe(engine, params)
        state_text = (
            f"reachable, {checked.latency_seconds * 1000:.0f} ms"
            if checked.healthy and checked.latency_seconds is not None
            else f"not reachable now: {checked.error}"
        )
        console.print(
            Text("added", style="green"),
            Text(f"{added.id} ({added.capability.value} at {url}; {state_text})"),
        )
        return
    if path is None or capability is None:
        raise fail(
            "give the model's PATH and --capability (or a remote --engine and --url)", code=2
        )
    with open_store(ctx) as store, RichProgress() as progress:
        installed = store.add(
            path.expanduser(),
            model_id,
            capability,
            engine,
            params=params,
            description=description,
            memory_mb=memory_mb,
            progress=progress,
        )
    console.print(
        Text("added", style="green"),
        Text(f"{installed.id} ({_mb(installed.size)}) at {installed.path}"),
    )


@app.command("verify")
def verify(
    ctx: typer.Context,
    model_ids: Annotated[
        list[str] | None, typer.Argument(help="Models to check (default: all installed).")
    ] = None,
) -> None:
    """Re-hash installed files against the manifest (or the hash recorded at install)."""
    bad = 0
    with open_store(ctx) as store, RichProgress() as progress:
        for model_id in model_ids or [m.id for m in store.installed()]:
            result = store.verify(model_id, progress)
            if result.ok:
                console.print(f"[green]ok[/] {model_id}", highlight=False)
            else:
                bad += 1
                for problem in result.problems:
                    console.print(
                        Text("bad", style="red"), Text(f"{model_id}: {problem}"), highlight=False
                    )
    if bad:
        raise fail(
            f"{bad} model(s) failed verification; `assistant models pull --force ID` repairs"
        )


@app.command("rm")
def remove(
    ctx: typer.Context,
    model_id: Annotated[str, typer.Argument(help="Model to remove.")],
) -> None:
    """Uninstall a model (files no other model shares are deleted)."""
    with open_store(ctx) as store:
        model = store.require(model_id)
        store.remove(model_id)
    console.print(f"removed {model_id} (freed up to {_mb(model.size)})", highlight=False)


@app.command("info")
def info(
    ctx: typer.Context,
    model_id: Annotated[str, typer.Argument(help="Model id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Everything about one model: catalogue entry, sources, install state."""
    with open_store(ctx) as store:
        entry = store.manifest.models.get(model_id)
        local = store.get(model_id)
        if entry is None and local is None:
            store.manifest.get(model_id)  # raises NotFound with suggestions
    data: dict[str, Any] = {"id": model_id}
    if entry is not None:
        data.update(
            capability=entry.capability.value,
            engine=entry.engine,
            description=entry.description,
            license=entry.license,
            languages=list(entry.languages),
            memory_mb=entry.memory_mb,
            params=dict(entry.params),
            notes=entry.notes,
            files=[
                {
                    "name": f.name,
                    "size": f.size,
                    "sha256": f.sha256 or "not pinned (trusted on first download)",
                    "sources": [s.describe() for s in f.sources],
                }
                for f in entry.files
            ],
        )
    if local is not None:
        data["installed"] = {
            "path": str(local.path),
            "source": local.source,
            "installed_at": local.installed_at,
            "verified_at": local.verified_at,
            "params": {k: "***" if k == "api_key" else v for k, v in local.params.items()},
            "files": [
                {"name": f.name, "sha256": f.sha256, "size": f.size, "pinned": f.pinned}
                for f in local.files
            ],
        }
    else:
        data["installed"] = None
    if as_json:
        print_json(data)
        return
    console.print_json(json.dumps(data, default=str))


@app.command("convert")
def convert(
    ctx: typer.Context,
    source: Annotated[
        str, typer.Argument(help="A CTranslate2 Whisper folder, or the id of an installed one.")
    ],
    output: Annotated[Path, typer.Argument(help="The ggml file to write.")],
    install_as: Annotated[
        str | None, typer.Option("--install-as", help="Also add the result to the store as ID.")
    ] = None,
) -> None:
    """Convert a CTranslate2 (faster-whisper) Whisper model to whisper.cpp's ggml format."""
    with open_store(ctx) as store:
        folder = Path(source).expanduser()
        if not folder.is_dir():
            folder = store.require(source).path
        console.print(f"converting {folder} -> {output}", highlight=False, markup=False)
        result = store.convert("whisper-ct2-to-ggml", folder, output.expanduser())
        console.print(
            f"wrote {output} ({_mb(result.size)}, sha256 {result.sha256})",
            highlight=False,
            markup=False,
        )
        if install_as:
            model = store.add(output, install_as, Capability.STT, "whispercpp")
            console.print(f"[green]added[/] {model.id}", highlight=False)


@app.command("export")
def export(
    ctx: typer.Context,
    model_id: Annotated[str, typer.Argument(help="An installed ultralytics (.pt) detector.")],
    output: Annotated[
        Path | None, typer.Argument(help="The ONNX file to write (default: ID's name + .onnx).")
    ] = None,
    install_as: Annotated[
        str | None,
        typer.Option("--install-as", help="Also add the result to the store as ID (yolo_onnx)."),
    ] = None,
    input_size: Annotated[
        int, typer.Option("--input-size", min=32, max=4096, help="Square input side.")
    ] = 640,
) -> None:
    """Export an ultralytics YOLO .pt detector to ONNX (needs the ultralytics extra)."""
    from runtime.detect.ultralytics import export_to_onnx, find_weights

    with open_store(ctx) as store:
        model = store.require(model_id)
        if model.engine != "ultralytics":
            raise InvalidInput(
                f"{model_id} runs on {model.engine}; only ultralytics .pt detectors are exported",
                field="model_id",
            )
        weights = find_weights(model.path, model.params.get("model_file"))
        if weights is None:
            raise InvalidInput(f"{model_id} has no .pt file in {model.path}", field="model_id")
        default = Path("-".join(model_slug(model_id).parts) + ".onnx")
        target = (output or default).expanduser()
        console.print(f"exporting {weights} -> {target}", highlight=False, markup=False)
        export_to_onnx(weights, target, input_size)
        console.print(f"wrote {target}", highlight=False, markup=False)
        if install_as:
            added = store.add(target, install_as, Capability.DETECT, "yolo_onnx")
            console.print(f"[green]added[/] {added.id}", highlight=False)


@app.command("ps")
def ps(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(help="Server address (default: from settings).", show_default=False),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(envvar="ASSISTANT_API_KEY", help="API key or access token of the server."),
    ] = None,
) -> None:
    """Models loaded in the running server, with memory and keep-alive."""
    settings = state(ctx).settings()
    base = url or f"http://{settings.server.host}:{settings.server.port}"
    if not api_key:
        raise fail(
            "the server needs credentials: create a key with `assistant users api-key NAME USER`"
            " and pass --api-key (or set ASSISTANT_API_KEY)",
            code=2,
        )
    try:
        response = httpx.get(
            f"{base}/api/v1/models", headers={"Authorization": f"Bearer {api_key}"}, timeout=10
        )
    except httpx.TransportError as exc:
        raise fail(f"no server at {base} ({exc}); start it with `assistant serve`") from exc
    if response.status_code != 200:
        raise fail(problem_detail(response))
    try:
        body = response.json()
        loaded = [dict(model) for model in body["loaded"]]
    except (ValueError, KeyError, TypeError):
        raise fail(f"{base} did not answer GET /api/v1/models as the assistant does") from None
    console.print(loaded_table(loaded))
    used, budget = body.get("used_mb"), body.get("budget_mb")
    console.print(
        f"{megabytes(used)} of {megabytes(budget)} budget in use", highlight=False, markup=False
    )
    remote = [dict(model) for model in body.get("remote") or [] if isinstance(model, dict)]
    if remote:
        console.print(remote_table(remote))


def remote_table(remote: list[dict[str, Any]]) -> Table:
    """The remote engines of ``GET /api/v1/models`` as a table."""
    table = Table()
    table.add_column("remote model", overflow="fold")
    table.add_column("capability", no_wrap=True)
    table.add_column("url", overflow="fold")
    table.add_column("health", no_wrap=True)
    table.add_column("latency", justify="right", no_wrap=True)
    table.add_column("when down", no_wrap=True)
    for model in remote:
        healthy = model.get("healthy")
        health = "not checked" if healthy is None else "up" if healthy else "down"
        if healthy is False and model.get("error"):
            health += f": {model.get('error')}"
        latency = model.get("latency_ms")
        table.add_row(
            plain(model.get("id")),
            plain(model.get("capability")),
            plain(model.get("url")),
            plain(health),
            plain("" if latency is None else f"{latency:.0f} ms"),
            plain("use a local model" if model.get("fallback") == "local" else "fail"),
        )
    return table


def loaded_table(loaded: list[dict[str, Any]]) -> Table:
    """The loaded models of ``GET /api/v1/models`` as a table."""
    table = Table()
    table.add_column("model", overflow="fold")  # a long id folds onto more lines, whole
    table.add_column("capability", no_wrap=True)
    table.add_column("memory", justify="right", no_wrap=True)
    table.add_column("in use", no_wrap=True)
    table.add_column("queued", justify="right", no_wrap=True)
    table.add_column("expires", no_wrap=True)
    table.add_column("pinned", no_wrap=True)
    for model in loaded:
        # Servers before the unit suffix say expires_in (seconds too).
        expires = model.get("expires_in_seconds", model.get("expires_in"))
        table.add_row(
            plain(model.get("id")),
            plain(model.get("capability")),
            megabytes(model.get("memory_mb")),
            plain("yes" if model.get("in_use") else ""),
            plain(model.get("queued", 0)),
            plain("never" if expires is None else f"in {duration(expires)}"),
            plain("yes" if model.get("pinned") else ""),
        )
    return table
