"""Benchmarks of the breathing and synchrony engine: each module runs with one command
(``python -m benchmarks.<name>``) and prints a table; ``python -m benchmarks`` runs all."""
