"""Stand-in for the Live Avatar inference service (lab only: its GPUs are simulated)."""
