"""What runs inside Locust: the simulated client, the shapes, the token checks (loadtests/ imports these)."""
