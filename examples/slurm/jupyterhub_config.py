"""A Slurm cluster's JupyterHub with the execution broker: wrapspawner's ProfilesSpawner over
batchspawner's SlurmSpawner, three job sizes to choose from.

Put this on the cluster's submit host (where ``sbatch``, ``squeue``, ``scancel`` and ``scontrol`` work
for the hub's user). The two lines marked below are all the broker needs; the rest is an ordinary
batchspawner hub. See docs/slurm.md.
"""

import os
import sys

from jupyterhub_execplanner import setup_execplanner  # <- the broker, line 1

# importing the class at start also adds the hub's /hub/api/batchspawner route, where each job
# reports the port its server listens on
from jupyterhub_execplanner.platform.slurmspawner import ExecPlannerSlurmSpawner

c = get_config()  # noqa: F821 (provided by JupyterHub)

here = os.path.dirname(os.path.abspath(__file__))
state = os.environ.get("EXECPLANNER_STATE_DIR", os.path.join(here, "..", "..", ".cache", "slurm-hub"))
os.makedirs(state, exist_ok=True)
venv = os.path.dirname(sys.executable)  # the same environment on the hub and on the nodes

c.JupyterHub.ip = "0.0.0.0"  # the nodes reach the hub's API: listen beyond loopback
c.JupyterHub.hub_ip = "0.0.0.0"
c.JupyterHub.hub_connect_ip = os.environ.get("EXECPLANNER_HUB_HOST", "")  # the name nodes use
c.JupyterHub.db_url = "sqlite:///" + os.path.join(state, "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(state, "jupyterhub_cookie_secret")
c.JupyterHub.authenticator_class = "pam"  # jobs run as the users' own accounts

# the job sizes users pick from (and the broker offers)
c.JupyterHub.spawner_class = "wrapspawner.ProfilesSpawner"
c.ProfilesSpawner.child_class = ExecPlannerSlurmSpawner
c.ProfilesSpawner.profiles = [
    ("2 cores, 8 GB", "small", ExecPlannerSlurmSpawner,
     {"req_nprocs": "2", "req_memory": "8G", "req_runtime": "8:00:00"}),
    ("A whole node", "node", ExecPlannerSlurmSpawner,
     {"req_nprocs": "32", "req_memory": "120G", "req_runtime": "4:00:00"}),
    ("1 GPU", "gpu", ExecPlannerSlurmSpawner,
     {"req_partition": "gpu", "req_nprocs": "8", "req_memory": "60G", "req_ngpus": "1",
      "req_runtime": "4:00:00"}),
]
c.SlurmSpawner.req_partition = "cpu"  # profiles without a partition of their own
c.SlurmSpawner.exec_prefix = "sudo -E -u {username}"  # jobs as the user (the hub's user may sudo)
c.SlurmSpawner.batchspawner_singleuser_cmd = os.path.join(venv, "batchspawner-singleuser")
c.Spawner.cmd = [os.path.join(venv, "jupyterhub-singleuser")]
c.Spawner.start_timeout = 300  # a job may wait in the queue a while
c.Spawner.http_timeout = 120

setup_execplanner(c)  # <- the broker, line 2 (capacity_provider "auto" picks "slurm")
