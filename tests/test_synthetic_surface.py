from __future__ import annotations

import numpy as np

from datasets.synthetic.surface import WallSurface


def test_wall_only_forbids_what_is_not_the_walls_colour() -> None:
    image = np.full((200, 300, 3), (90, 170, 210), np.uint8)  # a yellow-ochre facade
    image[160:, :] = (120, 120, 120)  # grey sidewalk
    image[60:150, 200:240] = (30, 50, 90)  # a brown door nobody labelled
    windows = np.array([[40, 20, 80, 70], [120, 20, 160, 70]], np.float32)
    surface = WallSurface.from_boxes((200, 300), windows, np.zeros((0, 4)), image)
    strict = surface.wall_only()
    assert not surface.forbidden[180, 50] and strict.forbidden[180, 50]  # sidewalk
    assert not surface.forbidden[100, 220] and strict.forbidden[100, 220]  # unlabelled door
    assert not strict.forbidden[100, 100]  # plain wall stays free
    assert strict.forbidden[40, 60]  # a labelled window stays forbidden


def test_without_an_image_wall_only_changes_nothing() -> None:
    surface = WallSurface.from_boxes((100, 100), np.array([[10, 10, 30, 40]], np.float32), np.zeros((0, 4)))
    assert surface.wall_only() is surface
    assert surface.bottom == 38 and surface.top == 0
