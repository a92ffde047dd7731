"""Where the repository's top-level data folders are: a clone's own, or the copies an installed wheel carries.

``loadtests/`` (the Locust files users run) and ``schemas/`` (the JSON documents) live at the top of the
repository, as the design card lays it out. pyproject.toml ships both inside the wheel as data under
``conformance/shipped/``; no code imports them as modules (the load runner hands a locustfile's path to Locust,
the schemas are read as files). In a clone (editable install, or the source folder first on ``sys.path`` as with
``locust -f loadtests/...`` from the clone's root) there is no ``shipped/``: the folders are the clone's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

__all__ = ["TopFolder", "top_folder"]

TopFolder = Literal["loadtests", "schemas"]

_PACKAGE = Path(__file__).resolve().parent


def top_folder(name: TopFolder) -> Path:
    """The folder ``name``: inside an installed wheel (``conformance/shipped/NAME``), else at the clone's top."""
    wheel = _PACKAGE / "shipped" / name
    return wheel if wheel.is_dir() else _PACKAGE.parent / name
