"""StreetWatch command line: the one place that wires vision, datasets, models and the server together."""

import vision  # noqa: F401  first, so that OpenCV's decoder pixel limit is set before cv2 loads
