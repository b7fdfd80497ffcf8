"""A local JupyterHub with the execution broker: SQLite, the local process spawner, dummy login.

Run it with ``bash scripts/hub.sh`` (which installs what it needs first). For a real deployment keep
your own authenticator and spawner: the two lines marked below are all the broker needs.
"""

import os

from jupyterhub.utils import random_port

from jupyterhub_execplanner import setup_execplanner  # <- the broker, line 1

c = get_config()  # noqa: F821 (provided by JupyterHub)

here = os.path.dirname(os.path.abspath(__file__))
state = os.environ.get("EXECPLANNER_STATE_DIR", os.path.join(here, "..", ".cache", "hub"))
os.makedirs(state, exist_ok=True)

c.JupyterHub.ip = os.environ.get("EXECPLANNER_HUB_IP", "127.0.0.1")
c.JupyterHub.port = int(os.environ.get("EXECPLANNER_HUB_PORT", "8000"))
# the hub's own API and the proxy's API listen on loopback ports that are free when the hub starts
# (so two local hubs never clash), unless you set them: EXECPLANNER_HUB_API_PORT and
# EXECPLANNER_PROXY_API_PORT
c.JupyterHub.hub_port = int(os.environ.get("EXECPLANNER_HUB_API_PORT") or random_port())
proxy_api_port = int(os.environ.get("EXECPLANNER_PROXY_API_PORT") or random_port())
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{proxy_api_port}"
c.JupyterHub.db_url = "sqlite:///" + os.path.join(state, "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(state, "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = os.path.join(state, "jupyterhub-proxy.pid")

# Anyone may log in with any name and no password: for trying the broker on your own machine only.
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.Authenticator.admin_users = {"admin"}

# Single-user servers as local processes, each in its own folder under the state folder.
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = os.path.join(state, "home", "{username}")
if os.geteuid() == 0:
    c.Spawner.args = ["--allow-root"]

# Linked accounts between two trial hubs (docs/linked-accounts.md), when asked for:
# EXECPLANNER_PEER_URL on the hub users link *from* (it declares the other hub as a peer they can link
# to), EXECPLANNER_LINK_FROM on the hub they link *to* (it registers the first one's broker as an OAuth
# client). Both read the client secret from EXECPLANNER_LINK_SECRET; scripts/hub.sh makes the
# encryption key for linked tokens (JUPYTERHUB_CRYPT_KEY) in the state folder when none is set.
linking = {}
client_id = "service-execplanner-trial-link"
if os.environ.get("EXECPLANNER_PEER_URL"):
    link = {"client_id": client_id, "secret_env": "EXECPLANNER_LINK_SECRET"}
    linking["peers"] = [{"name": os.environ.get("EXECPLANNER_PEER_NAME", "other-hub"),
                         "url": os.environ["EXECPLANNER_PEER_URL"], "link": link}]
if os.environ.get("EXECPLANNER_LINK_FROM"):
    callback = os.environ["EXECPLANNER_LINK_FROM"].rstrip("/") + "/services/execplanner/links/callback"
    linking["link_clients"] = [{"name": "trial", "client_id": client_id, "redirect_uri": callback,
                                "secret_env": "EXECPLANNER_LINK_SECRET"}]

host_memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**30  # GiB
setup_execplanner(  # <- line 2
    c,
    **linking,
    db_url="sqlite:///" + os.path.join(state, "execplanner.sqlite"),
    # This trial hub runs on loopback, and so do the notebooks and data you will try it with: allow
    # loopback to be fetched. A production hub must not: its loopback and private addresses are the
    # hub's own network (see fetch_allowed_hosts in docs/configuration.md).
    fetch_allowed_hosts=["127.0.0.0/8", "::1", "localhost"],
    # A trial: servers are local processes with no limits enforced, and an idle lab uses little.
    # Count each lab as a quarter core and half a GiB, and offer at least 4 cores and 8 GiB even
    # on a smaller machine, so that two people can each have a lab and a session at once.
    server_footprint={"cores": 0.25, "memory": 0.5},
    capacity={"default": {"cores": max(4, os.cpu_count() or 1), "memory": max(8, host_memory)}},
)

# The broker's settings, if you want to change them (see docs/configuration.md), e.g.:
# setup_execplanner(c, offer_expiry="PT2M", max_offers=6)
