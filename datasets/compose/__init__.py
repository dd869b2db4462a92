"""Patrol-view examples composed for training (issue 18): real and synthetic objects at the sizes and places a
patrol car's camera sees them, on real patrol frames, cut into tiles at the model's size.

spec.py: the `compose:` entries of a dataset config; geometry.py: the flat-ground perspective model; cutouts.py:
real objects cut out of labelled photos and blended in; placing.py: where each kind of object goes; frames.py:
seeded runs over a build's frames, yielding tiles.
"""
