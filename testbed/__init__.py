"""Real parts shared by the tests and the benchmarks: a throw-away PostgreSQL, free ports, synthetic sightings,
a server's people. Imported by `tests/` and `benchmarks/` only, never by the product's packages (tests/test_layout.py);
the benchmarks import nothing from `tests/`."""
