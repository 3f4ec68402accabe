"""Arrival processes and trace readers: when each model's requests arrive."""

from perseus.workload.arrivals import generate, scenario_arrivals

__all__ = ["generate", "scenario_arrivals"]
