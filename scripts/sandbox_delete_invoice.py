"""Someone deletes a QuickBooks invoice by its number in the sandbox (POST /invoice?operation=delete, as the QuickBooks screen does).

Used by docs/operations.md: `python scripts/sandbox_delete_invoice.py 1005` beside the sandbox's connex.toml."""
import json
import sys
from connex_core.config import load_config
from connex_core.connections import Connections
from connex_core.plugins import get_manager

with Connections(load_config("connex.toml"), get_manager()) as connections:
    api = connections.get("quickbooks").api
    [invoice] = api.query(f"select * from Invoice where DocNumber = '{sys.argv[1]}'")["Invoice"]
    api.qb.make_request("POST", api._url("invoice"), json.dumps({"Id": invoice["Id"], "SyncToken": invoice["SyncToken"]}),
                        params={"operation": "delete"})
    print(f"deleted invoice {sys.argv[1]} (Id {invoice['Id']})")
