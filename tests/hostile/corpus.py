"""The hostile request corpus: raw requests as data files, each with the outcome it must get.

``cases/NAME.http`` holds the exact bytes a client sends; ``expected.txt`` has one
line per case: ``name | outcome | limits | why`` (see its header). This module
only reads them; the tests drive the cases through the sans-IO layer, live
servers of each worker type and a reference parser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from wsgikit.http import Limits

__all__ = ["CASES", "SMUGGLED", "HostileCase", "limits_of", "load"]

HERE = Path(__file__).resolve().parent
#: The request appended behind a bad one: it must never be answered.
SMUGGLED = b"GET /SMUGGLED HTTP/1.1\r\nHost: x\r\n\r\n"

# Gunicorn's setting names (as the live server takes them) -> Limits fields.
_LIMIT_FIELDS = {
    "limit_request_line": "request_line",
    "limit_request_fields": "header_fields",
    "limit_request_field_size": "header_field_size",
    "limit_request_body": "body",
}


@dataclass(frozen=True)
class HostileCase:
    name: str
    raw: bytes
    outcome: tuple[int, ...]  # statuses answered, in order
    why: str
    limits: dict[str, int] = field(default_factory=dict)  # setting name -> value

    @property
    def rejected(self) -> bool:
        """True when the last answer is an error: the connection closes after it."""
        return self.outcome[-1] >= 400

    @property
    def served(self) -> int:
        """How many requests the application answers."""
        return sum(1 for status in self.outcome if status < 400)

    def __str__(self) -> str:
        return self.name


def limits_of(case: HostileCase) -> Limits:
    """The sans-IO limits matching the case's settings."""
    return Limits(**{_LIMIT_FIELDS[k]: v for k, v in case.limits.items()})


def load(directory: Path = HERE) -> list[HostileCase]:
    """Every case of ``expected.txt``, with its bytes; raises on a malformed line."""
    cases = []
    for number, line in enumerate((directory / "expected.txt").read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = [part.strip() for part in line.split("|", 3)]
        if len(parts) != 4 or not all(parts):
            raise ValueError(f"expected.txt:{number}: want 'name | outcome | limits | why'")
        name, outcome, limits, why = parts
        settings: dict[str, int] = {}
        if limits != "-":
            for item in limits.split(","):
                key, _, value = item.partition("=")
                if key not in _LIMIT_FIELDS:
                    raise ValueError(f"expected.txt:{number}: unknown limit {key!r}")
                settings[key] = int(value)
        raw = (directory / "cases" / f"{name}.http").read_bytes()
        statuses = tuple(int(status) for status in outcome.split("+"))
        if any(status >= 400 for status in statuses[:-1]):
            raise ValueError(f"expected.txt:{number}: nothing is answered after a rejection")
        cases.append(HostileCase(name, raw, statuses, why, settings))
    return cases


CASES = load()
