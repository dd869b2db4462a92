"""Synthetic examples composed onto real street photos, for classes with no labelled real photos.

Every generator is seeded and deterministic and records, per example, what it placed where.
"""
