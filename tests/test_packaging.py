"""What an installation of wsgikit ships: the package and its typing marker (PEP 561)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_built_package_ships_py_typed(tmp_path: Path) -> None:
    # setuptools' build step (what a wheel is made of), from a copy of the sources, so
    # that the checkout gets no build/ directory.
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "wsgikit", source / "wsgikit", ignore=shutil.ignore_patterns("__pycache__")
    )
    built = tmp_path / "lib"
    subprocess.run(
        [sys.executable, "-c", "import setuptools; setuptools.setup()", "-q"]
        + ["build_py", "--build-lib", str(built)],
        cwd=source,
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert (built / "wsgikit" / "py.typed").is_file()
    assert (built / "wsgikit" / "process" / "arbiter.py").is_file()
