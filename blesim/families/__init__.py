"""Simulated devices, one module per protocol family (see catalog.py for the registry)."""
