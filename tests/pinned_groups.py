"""xdist's ``loadgroup`` scheduling, with the local-server tests pinned to one worker.

The handler tests against SeaweedFS and DynamoDB Local need those servers in the process that
runs them, and a worker starts them when its session starts (``integration/early_servers.py``),
seconds before it knows which tests it will get. Under plain ``loadgroup`` either worker could
get them, so both started a full set: the idle set cost ~3 CPU seconds, and two JVMs and two
SeaweedFS starting together raced for the same free ports. Here the ``local-servers`` group
always goes to ``SERVERS_WORKER``, which alone starts the servers early; every other group goes
to whichever worker is free, as before. If that worker is gone (xdist replaces a crashed
worker under a new id), the group goes to any worker, whose fixtures then start the servers.
"""
from __future__ import annotations

from xdist.scheduler import LoadGroupScheduling

SERVERS_GROUP = "local-servers"
SERVERS_WORKER = "gw0"


class PinnedGroupScheduling(LoadGroupScheduling):
    def _may_take(self, node, scope: str) -> bool:
        if scope != SERVERS_GROUP:
            return True
        return node.gateway.id == SERVERS_WORKER or all(
            other.gateway.id != SERVERS_WORKER or other.shutting_down for other in self.nodes)

    def _next_scope(self, node) -> str | None:
        """The pinned group first for its worker, else the first (largest) group it may take."""
        if node.gateway.id == SERVERS_WORKER and SERVERS_GROUP in self.workqueue:
            return SERVERS_GROUP
        return next((scope for scope in self.workqueue if self._may_take(node, scope)), None)

    def _assign_work_unit(self, node) -> None:
        scope = self._next_scope(node)
        if scope is None:
            return
        work_unit = self.workqueue.pop(scope)
        self.assigned_work.setdefault(node, {})[scope] = work_unit
        collection = self.registered_collections[node]
        node.send_runtest_some([collection.index(nodeid)
                                for nodeid, completed in work_unit.items() if not completed])

    def _reschedule(self, node) -> None:
        if node.shutting_down:
            return
        if self._next_scope(node) is None:
            # Nothing left this worker may run: it finishes what it has, then stops.
            node.shutdown()
            return
        if self._pending_of(self.assigned_work[node]) > 2:
            return
        self._assign_work_unit(node)
