"""Tests of the command line (conformance.cli)."""
