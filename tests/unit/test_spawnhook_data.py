"""The pre-spawn hook mounts the local data collections of a launch read-only (KubeSpawner volumes)."""

from __future__ import annotations

from jupyterhub.spawner import SimpleLocalProcessSpawner
from test_spawnhook import SECRET, run_hook, spawner, spec
from traitlets import List

from jupyterhub_execplanner import launch
from jupyterhub_execplanner.launch import DataItem

COLLECTIONS = {
    "survey": {"path": "/mnt/survey", "url_prefix": "https://archive.example.org/survey/",
               "volume": {"persistentVolumeClaim": {"claimName": "survey-pvc"}}},
    "plain": {"path": "/srv/plain", "url_prefix": "https://plain.example.org/"},
}
LOCAL = DataItem("survey", "https://archive.example.org/survey/cat.fits", "local", "data/survey",
                 "/mnt/survey/cat.fits", 0, 0.0, "survey")


class VolumeSpawner(SimpleLocalProcessSpawner):
    """Stands for KubeSpawner: ``volumes`` and ``volume_mounts``."""

    volumes = List().tag(config=True)
    volume_mounts = List().tag(config=True)


async def test_a_local_collection_is_mounted_read_only_at_its_path() -> None:
    data = (LOCAL, DataItem("x", "https://plain.example.org/x", "local", "data/x", "/srv/plain/x", 0, 0.0,
                            "plain"))
    s = spawner(launch.to_user_options(spec(data=data), SECRET), cls=VolumeSpawner,
                data_collections=COLLECTIONS)
    s.volumes = [{"name": "home", "emptyDir": {}}]
    await run_hook(s)
    assert s.volumes == [{"name": "home", "emptyDir": {}},
                         {"persistentVolumeClaim": {"claimName": "survey-pvc"},
                          "name": "execplanner-data-survey"}]
    assert s.volume_mounts == [{"name": "execplanner-data-survey", "mountPath": "/mnt/survey",
                                "readOnly": True}]  # "plain" has no volume: nothing to mount

    # the next start of the same spawner, without data, gets the admin's volumes back
    s.user_options = launch.to_user_options(spec(data=()), SECRET)
    await run_hook(s)
    assert s.volumes == [{"name": "home", "emptyDir": {}}] and s.volume_mounts == []


async def test_staged_data_and_spawners_without_volumes_mount_nothing() -> None:
    staged = DataItem("survey", "https://far.example.net/cat.fits", "stage", "data/survey")
    s = spawner(launch.to_user_options(spec(data=(staged,)), SECRET), cls=VolumeSpawner,
                data_collections=COLLECTIONS)
    await run_hook(s)
    assert s.volumes == [] and s.volume_mounts == []
    local = spawner(launch.to_user_options(spec(data=(LOCAL,)), SECRET), data_collections=COLLECTIONS)
    await run_hook(local)  # a local process spawner: the preload links the path, no volume
    assert not local.has_trait("volumes")
