"""xdist's ``loadgroup`` scheduling, with the local-server tests pinned to one worker, which
leaves the CDK's tests to the others.

The handler tests against SeaweedFS and DynamoDB Local need those servers in the process that
runs them, and a worker starts them when its session starts (``integration/early_servers.py``),
seconds before it knows which tests it will get. Under plain ``loadgroup`` either worker could
get them, so both started a full set: the idle set cost ~3 CPU seconds, and two JVMs and two
SeaweedFS starting together raced for the same free ports. Here the ``local-servers`` group
always goes to ``SERVERS_WORKER``, which alone starts the servers early; every other group goes
to whichever worker is free that collected it. If that worker is gone (xdist replaces a crashed
worker under a new id), the group goes to any worker, whose fixtures then start the servers.

``SERVERS_WORKER`` does not collect ``tests/infra`` (``tests/conftest.py``): those modules load
the CDK, and collecting them cost that worker ~2 CPU seconds, ~8 on a fresh clone (compiling
aws-cdk-lib's Python at the same moment as the other worker and the session synth), and a
jsii kernel it never used. So the workers' collections differ: xdist requires them equal, this
scheduler requires each to be part of the fullest one and gives a worker only groups it
collected.
"""
from __future__ import annotations

import pytest
from xdist.report import report_collection_diff
from xdist.scheduler import LoadGroupScheduling

SERVERS_GROUP = "local-servers"
SERVERS_WORKER = "gw0"


def leaves_infra_to_others(workerinput: dict, *, loadgroup: bool, runs_servers: bool) -> bool:
    """Whether this xdist worker skips ``tests/infra``: it is ``SERVERS_WORKER`` in a
    ``loadgroup`` run that has the local-server tests and another worker to take the rest."""
    return (workerinput.get("workerid") == SERVERS_WORKER and workerinput.get("workercount", 1) > 1
            and loadgroup and runs_servers)


class PinnedGroupScheduling(LoadGroupScheduling):
    def __init__(self, config, log=None) -> None:
        super().__init__(config, log)
        self._indices: dict = {}  # worker -> {test id: index in its own collection}
        self._groups: dict = {}  # worker -> the groups it collected

    def schedule(self) -> None:
        if self.collection is None and self.collection_is_completed:
            # xdist's schedule() takes the first registered collection as the whole run, and
            # with fewer groups than workers shuts down the workers that came up last (popitem
            # on assigned_work): order both fullest first, so a partial worker goes first and
            # the one that collected everything stays.
            order = sorted(self.registered_collections,
                           key=lambda node: -len(self.registered_collections[node]))
            self.registered_collections = {node: self.registered_collections[node]
                                           for node in order}
            self.assigned_work = {node: self.assigned_work[node]
                                  for node in order if node in self.assigned_work}
        super().schedule()

    def _check_nodes_have_same_collection(self) -> bool:
        """Each worker's collection is part of the fullest one; a test collected only by a
        worker that is not the fullest's is reported as xdist reports a differing collection."""
        (full_node, full), *others = self.registered_collections.items()
        known = set(full)
        consistent = True
        for node, collection in others:
            if set(collection) <= known:
                continue
            consistent = False
            message = report_collection_diff(full, collection, full_node.gateway.id,
                                             node.gateway.id)
            self.log(message)
            # As xdist does for differing collections: the run fails with the difference.
            self.config.hook.pytest_collectreport(report=pytest.CollectReport(
                nodeid=node.gateway.id, outcome="failed", longrepr=message, result=[]))
        return consistent

    def _collected(self, node) -> dict[str, int]:
        """The worker's test ids, each with its index in the worker's own collection."""
        if node not in self._indices:
            self._indices[node] = {nodeid: index for index, nodeid
                                   in enumerate(self.registered_collections[node])}
        return self._indices[node]

    def _collected_groups(self, node) -> set[str]:
        if node not in self._groups:
            self._groups[node] = {self._split_scope(nodeid) for nodeid in self._collected(node)}
        return self._groups[node]

    def _may_take(self, node, scope: str) -> bool:
        if scope not in self._collected_groups(node):
            return False
        if scope != SERVERS_GROUP:
            return True
        return node.gateway.id == SERVERS_WORKER or all(
            other.gateway.id != SERVERS_WORKER or other.shutting_down for other in self.nodes)

    def _next_scope(self, node) -> str | None:
        """The pinned group first for its worker, else the first (largest) group it may take."""
        if node.gateway.id == SERVERS_WORKER and SERVERS_GROUP in self.workqueue \
                and self._may_take(node, SERVERS_GROUP):
            return SERVERS_GROUP
        return next((scope for scope in self.workqueue if self._may_take(node, scope)), None)

    def _assign_work_unit(self, node) -> None:
        scope = self._next_scope(node)
        if scope is None:
            return
        work_unit = self.workqueue.pop(scope)
        self.assigned_work.setdefault(node, {})[scope] = work_unit
        indices = self._collected(node)
        node.send_runtest_some([indices[nodeid]
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
