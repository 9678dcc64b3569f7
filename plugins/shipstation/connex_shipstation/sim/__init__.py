"""ShipStation simulators: test doubles of the vendor API, shipped for the sandbox and third-party tests."""
