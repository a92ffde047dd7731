"""Robustness: the harness against hostile targets, with secrets, in parallel and repeated runs."""
