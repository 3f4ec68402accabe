"""Triton Inference Server: the embedded host, its model repository, and client helpers."""
