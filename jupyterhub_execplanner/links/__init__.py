"""Linked accounts: a user of this hub links their own account on a peer hub (OAuth 2 with the
peer's JupyterHub as the provider), and this broker then acts on that peer as them.

:mod:`.sealing` encrypts the peers' tokens at rest, :mod:`.book` keeps them, :mod:`.oauth` talks
to the peer's hub and broker, :mod:`.linker` ties the flow together. See docs/linked-accounts.md.
"""
