"""A SimPy discrete-event model of multi-tenant Triton Inference Server."""
