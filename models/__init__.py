"""Models: training, evaluation, export, the registry and model cards; shipped weights live in `models/zoo/`."""
