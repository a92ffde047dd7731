"""The one error a user's mistake raises, wherever it is found: one line, exit code 2, never a traceback.

The readers of the run's inputs (conformance.certificate, conformance.headers) raise subclasses of it, so the
command line shows their message as it is and the plugin turns it into pytest's usage error.
"""


class UsageError(Exception):
    """A user mistake: printed as one line, exit code 2, never a traceback."""
