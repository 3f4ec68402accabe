"""Perseus: measure, simulate and validate multi-tenant CNN serving on Triton."""

__version__ = "0.1.0"
