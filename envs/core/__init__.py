"""The simulator core: configuration, workload and the event simulator (no gymnasium)."""

from .config import (
    BANDWIDTH_PRESETS_MBPS,
    ConfigError,
    SimConfig,
    WorkloadConfig,
    parse_bandwidth_mbps,
)
from .simulator import InvalidActionError, Simulator, TaskRecords
from .traces import RateTrace, make_trace
from .workload import check_arrivals, make_arrivals

__all__ = [
    "BANDWIDTH_PRESETS_MBPS", "ConfigError", "InvalidActionError", "SimConfig", "Simulator",
    "TaskRecords", "WorkloadConfig", "check_arrivals", "parse_bandwidth_mbps",
    "make_arrivals", "RateTrace", "make_trace",
]
