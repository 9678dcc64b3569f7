"""ShipStation API v2 (``https://api.shipstation.com/v2``, one ``api-key`` header): client, mapping, connector.

v1 stays the default: a connection says ``api = "v2"`` to use this package (see the plugin README).
"""
