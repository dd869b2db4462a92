"""StreetWatch command line: the one place that wires vision, datasets, models and the server together."""
