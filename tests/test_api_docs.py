"""docs/api.md names every public name of the modules a Gunicorn user's settings go through."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

API = Path(__file__).resolve().parents[1] / "docs" / "api.md"
MODULES = ["wsgikit.preflight", "wsgikit.gunicorn_compat", "wsgikit.config_sources"]


@pytest.mark.parametrize("module", MODULES)
def test_every_public_name_is_in_the_api_page(module: str) -> None:
    text = API.read_text()
    names = importlib.import_module(module).__all__
    missing = [n for n in names if not re.search(rf"`[^`]*\b{re.escape(n)}\b[^`]*`", text)]
    assert not missing, f"{module}: {missing} not in docs/api.md"
