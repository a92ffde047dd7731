"""token-conformance: judge an Agora token server on what its clients depend on.

Data path of a conformance run (see docs/design.md):

    cli  ->  pytest.main(bundled suite)  ->  case  ->  client  ->  tokens (codec)  ->  verdict  ->  report
"""

from pathlib import Path as _Path

__version__ = "0.1.0"


def _clone_layout() -> None:
    """In a clone, make ``conformance.loadtests`` and ``conformance.schemas`` importable as when installed.

    pyproject.toml maps the repository's top-level ``loadtests/`` and ``schemas/``
    into the package; an installed wheel holds them inside ``conformance/``.
    When this very folder is imported from a clone (Locust puts the current
    directory first on sys.path, so ``locust -f loadtests/...`` run from the
    clone's root imports the source folder, not the installed package), the
    two subpackages would not be found: look for them at the clone's top too.
    """
    here = _Path(__file__).resolve().parent
    root = here.parent
    if not (here / "loadtests").is_dir() and (root / "loadtests" / "common.py").is_file():
        __path__.append(str(root))


_clone_layout()
