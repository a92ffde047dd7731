"""token-conformance: judge an Agora token server on what its clients depend on.

Data path of a conformance run (see docs/design.md):

    cli  ->  pytest.main(bundled suite)  ->  case  ->  client  ->  tokens (codec)  ->  verdict  ->  report
"""

__version__ = "0.1.0"
