"""Gateway (executor) benchmarks."""
