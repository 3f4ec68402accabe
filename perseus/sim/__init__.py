"""A SimPy discrete-event model of multi-tenant Triton Inference Server."""

from perseus.sim.engine import simulate_placement
from perseus.sim.trace import BatchTable, RequestTable, SimTrace

__all__ = ["BatchTable", "RequestTable", "SimTrace", "simulate_placement"]
