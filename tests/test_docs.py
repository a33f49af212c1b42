"""The settings reference in docs/ is generated from the declarations and kept current."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from wsgikit.config import SETTINGS

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_settings_reference_is_up_to_date():
    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (DOCS / "settings.md").read_text() == module.render(), (
        "docs/settings.md is stale: run python docs/generate.py"
    )


def test_every_cli_setting_is_documented_with_its_flags():
    text = (DOCS / "settings.md").read_text()
    for spec in SETTINGS.values():
        for flag in spec.flags:
            assert f"`{flag}`" in text
