"""``perseus validate``: replay a scenario's trace on live Triton hosts and measure the simulator's error."""
