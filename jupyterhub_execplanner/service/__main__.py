"""``python -m jupyterhub_execplanner.service``: what the hub runs."""

from .app import main

if __name__ == "__main__":
    main()
