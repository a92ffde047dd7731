"""The reference token server: strict where the public servers are lax.

It is the embedded default target of ``check`` and ``load`` and the calibration
target of the benchmarks. Contract: docs/reference-server.md.
"""
