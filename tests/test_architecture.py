"""The dependency rule between apps (docs/architecture.md), checked by parsing every import.

Apps sit in layers, and an app imports only from the layers below it:

    accounts  <-  capture  <-  recaps

The project package `undertone_web` has two kinds of module. Its libraries (crypto, db, faults,
redaction) may be imported by every app and import no app. Its wiring (settings, urls, asgi, celery,
views, health) puts the apps together and may import any of them, but no app imports it.

Recaps talks to capture only through capture's public surface (models, services, selectors, signals),
never through its internals (audio store, VAD, protocol, consumers, transcription, tasks).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

LAYERS = {"accounts": 0, "capture": 1, "recaps": 2}
PROJECT = "undertone_web"
PROJECT_LIBRARIES = {"crypto", "db", "faults", "redaction"}
CAPTURE_INTERNALS = {
    "audio_store",
    "vad",
    "protocol",
    "consumers",
    "socket_guard",
    "transcription",
    "tasks",
    "stream",
}


def imports_of(root: Path, package: str) -> list[tuple[str, int, str]]:
    """(file, line, imported module) for every absolute import in a package, function-level included.
    ``from capture import services`` counts as ``capture.services``."""
    found = []
    for path in sorted((root / package).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(str(path.relative_to(root)), node.lineno, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.append((str(path.relative_to(root)), node.lineno, node.module))
                found += [
                    (str(path.relative_to(root)), node.lineno, f"{node.module}.{alias.name}")
                    for alias in node.names
                    if node.module in LAYERS or node.module == PROJECT
                ]
    return found


def _project_kind(module: str) -> str:
    parts = module.split(".")
    return "library" if len(parts) > 1 and parts[1] in PROJECT_LIBRARIES else "wiring"


def violations(root: Path) -> list[str]:
    out = []
    edges: dict[str, set[str]] = {}
    for package in [*LAYERS, PROJECT]:
        for file, line, module in imports_of(root, package):
            top = module.split(".")[0]
            if top == package or top not in [*LAYERS, PROJECT]:
                continue
            where = f"{file}:{line} imports {module}"
            if package == PROJECT:
                if _project_kind(f"{PROJECT}.{Path(file).stem}") == "library" and top in LAYERS:
                    out.append(f"{where}: a project library imports no app")
                continue
            if top == PROJECT:
                if module != PROJECT and _project_kind(module) == "wiring":
                    out.append(
                        f"{where}: apps import only the project's libraries ({sorted(PROJECT_LIBRARIES)})"
                    )
                continue
            edges.setdefault(package, set()).add(top)
            if LAYERS[top] >= LAYERS[package]:
                out.append(f"{where}: {package} may import only apps below it")
            parts = module.split(".")
            if package == "recaps" and top == "capture" and len(parts) > 1 and parts[1] in CAPTURE_INTERNALS:
                out.append(f"{where}: recaps uses capture's public surface, not its internals")
    cycle = find_cycle(edges)
    if cycle:
        out.append("cycle between apps: " + " -> ".join(cycle))
    return out


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """A cycle in the app graph, or None; independent of the layer table, so a new app is covered."""
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt] if nxt in path else [*path, nxt]
            if state.get(nxt) is None:
                found = visit(nxt, [*path, nxt])
                if found:
                    return found
        state[node] = 2
        return None

    for start in sorted(edges):
        if state.get(start) is None:
            found = visit(start, [start])
            if found:
                return found
    return None


def test_the_apps_follow_the_dependency_rule():
    assert violations(ROOT) == []


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for package in [*LAYERS, PROJECT]:
        (tmp_path / package).mkdir(exist_ok=True)
        (tmp_path / package / "__init__.py").touch()
    return tmp_path


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # The cycle this rule was written to end: capture writing the recaps app's rows.
        (
            {
                "capture/services.py": "def f():\n    from recaps.models import Recap\n",
                "recaps/services.py": "from capture import services\n",
            },
            "capture may import only apps below it",
        ),
        ({"accounts/views.py": "from recaps.selectors import brief_for_user\n"}, "accounts may import only"),
        ({"recaps/tasks.py": "from capture import audio_store\n"}, "not its internals"),
        ({"capture/services.py": "from undertone_web.celery import app\n"}, "only the project's libraries"),
        ({"undertone_web/crypto.py": "import recaps.models\n"}, "a project library imports no app"),
    ],
)
def test_a_planted_violation_is_found(tmp_path, files, expected):
    found = violations(_tree(tmp_path, files))
    assert any(expected in v for v in found), found


def test_a_cycle_is_found_whatever_the_layers_say():
    assert find_cycle({"capture": {"recaps"}, "recaps": {"capture"}}) in (
        ["capture", "recaps", "capture"],
        ["recaps", "capture", "recaps"],
    )
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"recaps": {"capture", "accounts"}, "capture": {"accounts"}}) is None
