"""The project's own files stay consistent: environment.yml mirrors pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# conda-forge spells these differently or does not carry them; environment.yml installs them by pip
PIP_ONLY = {"mplfonts"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_environment_yml_mirrors_every_dependency() -> None:
    project = _pyproject()["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    for extra in ("test", "notebook"):
        wanted |= {_name(r) for r in project["optional-dependencies"][extra]}
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    listed = {
        _name(m.group(1))
        for m in re.finditer(r"^\s*-\s+([A-Za-z0-9_.\-]+)", text, flags=re.MULTILINE)
    }
    missing = sorted(wanted - listed)
    assert not missing, f"environment.yml lacks {missing}"
    for name in PIP_ONLY:
        assert re.search(rf"^\s+-\s+{name}\b", text, flags=re.MULTILINE)


def test_console_script_and_typed_marker() -> None:
    project = _pyproject()["project"]
    assert project["scripts"]["mobset-campaign"] == "mobset_campaign.cli:main"
    assert (ROOT / "mobset_campaign" / "py.typed").exists()
    assert project["requires-python"] == ">=3.11"
