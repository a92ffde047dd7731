"""Load runs: drive a Locust scenario in a bounded subprocess and judge it against SLOs.

``runner`` builds and runs the Locust child, ``slo`` judges, ``report`` and
``plots`` write load.json, PNGs and load.html; ``protocol`` is the contract with
the scenarios in ``conformance.loadtests``. Nothing here imports locust.
"""
