"""Reports and figures (matplotlib, Agg backend) built from profiles and simulation results."""
