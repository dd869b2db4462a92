"""Datasets: the real street photos in the shared datasets folder, formats, synthetic composition, versions.

Note: this top-level package shadows the Hugging Face `datasets` library, which StreetWatch does not use.
"""
