"""The simulation kernel: time, randomness, network and trace. Knows nothing of Kubernetes."""

from .clock import Clock, SimulationError, Timer
from .duration import DurationError, format_duration, parse_duration, to_ns
from .metrics import Metrics, Series
from .network import Host, Link, Network, constant, exponential, lognormal, uniform
from .seeds import Seeds
from .trace import Trace, TraceEvent

__all__ = [
    "Clock",
    "DurationError",
    "Host",
    "Link",
    "Metrics",
    "Network",
    "Seeds",
    "Series",
    "SimulationError",
    "Timer",
    "Trace",
    "TraceEvent",
    "constant",
    "exponential",
    "format_duration",
    "lognormal",
    "parse_duration",
    "to_ns",
    "uniform",
]
