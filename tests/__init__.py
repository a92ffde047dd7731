"""The project's tests; a package so that test modules can share small helpers by relative import."""
