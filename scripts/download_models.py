#!/usr/bin/env python3
"""Download models into the store without the `assistant` command.

The same code as `assistant models pull`: run it from a checkout with the
dependencies installed (for example before the package itself is installed):

    python scripts/download_models.py --profile offline
    python scripts/download_models.py qwen2.5-coder:0.5b-q4 --data-dir /srv/assistant
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.cli.progress import RichProgress
from assistant.problems import OWN_ERRORS, explain
from assistant.services import build_model_store
from assistant.settings import Settings


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, pull, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="model ids (name:tag)")
    parser.add_argument("--profile", help="pull every model of this profile (e.g. offline)")
    parser.add_argument("--data-dir", type=Path, help="data directory (default: XDG data home)")
    parser.add_argument("--force", action="store_true", help="download again even if installed")
    args = parser.parse_args(argv)
    if not args.models and not args.profile:
        parser.error("name model ids or --profile")
    overrides = {"data_dir": args.data_dir} if args.data_dir else {}
    try:
        store = build_model_store(Settings.load(**overrides))
        try:
            ids = list(args.models)
            if args.profile:
                ids += [m for m in store.manifest.profile(args.profile).models if m not in ids]
            with RichProgress() as progress:
                for model_id in ids:
                    model = store.pull(model_id, progress=progress, force=args.force)
                    print(f"installed {model.id} at {model.path}")
        finally:
            store.close()
    except OWN_ERRORS as exc:
        print(f"error: {explain(exc).detail}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
