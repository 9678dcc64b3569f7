"""Connex: an order-sync framework whose every order passes through rules the user writes.

Plugins import from here::

    from connex_core import hookimpl
"""

from importlib.metadata import PackageNotFoundError, version

from .hookspecs import hookimpl

try:
    __version__ = version("connex-core")
except PackageNotFoundError:  # running from a checkout without an install
    __version__ = "0.0.0+local"

__all__ = ["hookimpl", "__version__"]
