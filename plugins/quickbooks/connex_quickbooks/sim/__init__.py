"""QuickBooks Online simulator: a test double of the vendor API, shipped for the sandbox and third-party tests."""
