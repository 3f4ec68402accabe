"""``perseus profile``: measure a Triton host into a profile (SPEC, "profiles/NAME.yaml")."""
