"""jupyterhub-execplanner: make a JupyterHub an IVOA Execution Broker.

The one name a hub administrator needs is re-exported here::

    from jupyterhub_execplanner import setup_execplanner
    setup_execplanner(c)
"""

from ._version import __version__
from .hubconfig import setup_execplanner

__all__ = ["__version__", "setup_execplanner"]
