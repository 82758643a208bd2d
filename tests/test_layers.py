"""The layer rules of ARCHITECTURE.md, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent

# Who may not import whom. The CLI is the outermost face: `assistant serve` starts the
# server, so assistant/cli/serve.py alone may import server/. Each layer owns its errors
# (hal/errors.py, runtime/errors.py, assistant/errors.py): no exemption is needed for them.
FORBIDDEN = {
    "runtime": {"server", "assistant"},
    "hal": {"server", "assistant", "runtime"},
    "assistant": {"server"},
}
ALLOWED = {("assistant/cli/serve.py", "server")}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def allowed(relative: str, module: str) -> bool:
    return any(
        relative == who and (module == what or module.startswith(what + "."))
        for who, what in ALLOWED
    )


CASES = [(path, layer) for layer in FORBIDDEN for path in sorted((ROOT / layer).rglob("*.py"))]


@pytest.mark.parametrize(
    ("path", "layer"), CASES, ids=lambda v: str(v).replace(str(ROOT) + "/", "")
)
def test_imports_point_down(path: Path, layer: str) -> None:
    relative = str(path.relative_to(ROOT))
    for module in imports(path):
        top = module.split(".")[0]
        if top in FORBIDDEN[layer]:
            assert allowed(relative, module), f"{relative} imports {module}"


def test_controllers_hold_no_sql() -> None:
    for path in (ROOT / "server").rglob("*.py"):
        text = path.read_text()
        for word in ("SELECT ", "INSERT ", "UPDATE ", "DELETE FROM"):
            assert word not in text, f"{path.relative_to(ROOT)} contains SQL"


@pytest.mark.parametrize("layer", ["hal", "runtime", "assistant"])
def test_every_layer_owns_a_leaf_error_tree(layer: str) -> None:
    """Errors are raised everywhere, so their modules import nothing of ours."""
    ours = {"assistant", "runtime", "hal", "server"}
    found = imports(ROOT / layer / "errors.py")
    assert not {m for m in found if m.split(".")[0] in ours}
