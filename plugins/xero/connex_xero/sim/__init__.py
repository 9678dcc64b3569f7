"""Xero simulator: a test double of the vendor API (HTTP in simulator.py, the books in simbooks.py, the where
language in simwhere.py), shipped for the sandbox and third-party tests."""
