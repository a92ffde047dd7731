"""Known deviations: a JSON file ``{case id: reason}`` whose cases' failures become expected failures.

Read in one place for the CLI (which checks the file before any request is sent) and the pytest plugin.
"""

from __future__ import annotations

import json
from pathlib import Path

from .contract import REQUIREMENTS


class DeviationsError(ValueError):
    """The deviations file cannot be used: missing, not JSON, not an object of strings, or unknown ids."""


def load_deviations(path: str | None) -> dict[str, str]:
    """``{case id: reason}`` from ``path``; empty without a path."""
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise DeviationsError(f"cannot read the deviations file {path!r}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DeviationsError(f"the deviations file {path!r} is not JSON: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise DeviationsError(f"the deviations file {path!r} must be a JSON object {{case id: reason}}")
    unknown = sorted(set(data) - {r.id for r in REQUIREMENTS})
    if unknown:
        raise DeviationsError(f"the deviations file {path!r} names unknown cases: {', '.join(unknown)}")
    return {str(k): v for k, v in data.items()}
