"""Tables and files that present results."""
