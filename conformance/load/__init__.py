"""Load runs: drive a Locust scenario in a bounded subprocess and judge it against SLOs.

``runner`` builds and runs the Locust child, ``slo`` judges, ``report`` and
``plots`` write load.json, PNGs and load.html; ``protocol`` is the contract with
the scenarios. Nothing here imports locust except ``scenario``, the machinery that runs inside Locust
(the simulated client, the shapes, the token checks), which the Locust files in loadtests/ import.
"""
