"""Schemas of the files users write or Perseus writes: hosts, profiles, scenarios."""
