"""What a chapter shows: byte-stable SVG plots and a clock widget with a static copy for nbval.

Every view here is deterministic: the same simulated state renders to the same bytes, so a
notebook's stored outputs can be compared exactly on every run.
"""

from .clock import ClockWidget, Steppable, clock
from .plot import SVG, SeriesLike, timeline, to_svg

__all__ = ["SVG", "ClockWidget", "SeriesLike", "Steppable", "clock", "timeline", "to_svg"]
