"""What the pre-spawn hook hands to the preload, as one JSON document in ``$EXECPLANNER_PRELOAD``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from ..launch import LaunchSpec

_LISTS = ("pip_extra_args", "data_denied_sources", "data_allowed_sources", "fetch_allowed_hosts", "hub_urls",
          "snapshot_paths")


class PlanError(ValueError):
    """``$EXECPLANNER_PRELOAD`` is not a preload plan."""


@dataclass(frozen=True)
class PreloadPlan:
    spec: LaunchSpec
    report_url: str = ""  # POST progress here (empty: do not report)
    report_token: str = ""
    max_notebook_size: int = 20 * 1024 * 1024
    max_data_size: int = 1024**3
    timeout: float = 60.0  # seconds per download
    install_timeout: float = 600.0  # seconds for creating the environment and installing
    allow_options: bool = False
    pip_extra_args: tuple[str, ...] = ()
    installer: str = "auto"  # auto | uv | pip
    root_dir: str = ""  # the server's root directory; empty: the working directory
    # the hub's source policy, checked on every URL (and redirect) the preload fetches
    data_denied_sources: tuple[str, ...] = ()
    data_allowed_sources: tuple[str, ...] = ()
    # the hub's address policy (platform/netguard), checked on every connection of every fetch: the
    # internal hosts the admin allows, the hub's own URLs (their hosts are refused), and the paths of
    # the broker's snapshots (a notebook or requirements file there may be on the hub's own host)
    fetch_allowed_hosts: tuple[str, ...] = ()
    hub_urls: tuple[str, ...] = ()
    snapshot_paths: tuple[str, ...] = ()
    requirements_max_lines: int = 100

    def to_json(self) -> str:
        doc = asdict(self)
        doc["spec"] = self.spec.to_dict()
        for name in _LISTS:
            doc[name] = list(getattr(self, name))
        return json.dumps(doc, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> PreloadPlan:
        """The plan in ``text``; PlanError if it is not one."""
        try:
            doc = json.loads(text)
            if not isinstance(doc, dict) or not isinstance(doc.get("spec"), dict):
                raise ValueError("no 'spec'")
            known = set(cls.__dataclass_fields__)
            values = {k: v for k, v in doc.items() if k in known}
            values["spec"] = LaunchSpec.from_dict(doc["spec"])
            for name in _LISTS:
                values[name] = tuple(str(a) for a in doc.get(name) or ())
            if "requirements_max_lines" in values:
                values["requirements_max_lines"] = int(values["requirements_max_lines"])
            return cls(**values)
        except (ValueError, TypeError, KeyError) as e:
            raise PlanError(f"$EXECPLANNER_PRELOAD is not a preload plan: {e}") from None
