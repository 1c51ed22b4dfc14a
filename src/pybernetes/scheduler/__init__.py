"""The scheduler: a priority queue of pending pods, a node cache, and a framework of plugins (STYLE.md §2).

Layout, one job per module:

- ``framework.py``: the plugin API — ``Code``/``Status``, ``CycleState``, one Protocol per extension point,
  ``ClusterEvent`` for requeueing.
- ``podinfo.py``: what the scheduler reads from a pod, parsed once (requests, ports, affinity terms).
- ``cache.py``: ``NodeInfo`` per node (allocatable, requested sums, pods, ports) and the ``Cache`` with
  assume/forget around binding.
- ``queue.py``: the scheduling queue (active, backoff and unschedulable pods) and the nominator.
- ``runtime.py``: ``Framework``, a profile's plugins wired per extension point, run in order.
- ``algorithm.py``: one scheduling attempt — find feasible nodes, score them, pick one; ``FitError``'s message.
- ``scheduler.py``: the loop — pop, schedule, assume, bind concurrently, handle failures — and the informer
  event handlers.
- ``plugins/``: one file per in-tree plugin and the registry/default profile.
- ``main.py``: ``run_scheduler``: client, informers, leader election.
"""
