"""Every controller the controller manager can run, in start order. One line per controller."""

from __future__ import annotations

from pybernetes.controllers.base import Controller


def all_controllers() -> list[type[Controller]]:
    from pybernetes.controllers.deployment import DeploymentController
    from pybernetes.controllers.replicaset import ReplicaSetController, ReplicationControllerController
    out: list[type[Controller]] = []
    # Each controller module is imported here by name; add one line per controller.
    out += [ReplicaSetController, ReplicationControllerController]
    out += [DeploymentController]
    return out
