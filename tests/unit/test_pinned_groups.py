"""The suite's xdist scheduler: the local-server tests go to the one worker that starts the
servers, everything else to whichever worker is free that collected it (tests/pinned_groups.py)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from pinned_groups import (
    SERVERS_GROUP,
    SERVERS_WORKER,
    PinnedGroupScheduling,
    leaves_infra_to_others,
)

INFRA_TESTS = [f"tests/infra/test_a.py::test_{i}@infra" for i in range(6)]
COLLECTION = (
    INFRA_TESTS
    + [f"tests/integration/test_b.py::test_{i}@{SERVERS_GROUP}" for i in range(4)]
    + [f"tests/unit/test_c.py::test_{i}@unit/test_c.py" for i in range(5)]
)
# What the servers worker collects: everything but tests/infra (tests/conftest.py).
WITHOUT_INFRA = [nodeid for nodeid in COLLECTION if nodeid not in INFRA_TESTS]


class FakeWorker:
    def __init__(self, worker_id: str, collection: list[str] = COLLECTION) -> None:
        self.gateway = SimpleNamespace(id=worker_id)
        self.collection = collection
        self.shutting_down = False
        self.sent: list[str] = []

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent.extend(self.collection[i] for i in indices)

    def shutdown(self) -> None:
        self.shutting_down = True

    def groups(self) -> set[str]:
        return {nodeid.rsplit("@", 1)[1] for nodeid in self.sent}


def _scheduled(*worker_ids: str, collections: dict[str, list[str]] | None = None,
               reports: list | None = None) -> tuple[PinnedGroupScheduling, dict[str, FakeWorker]]:
    config = SimpleNamespace(getvalue=lambda name: {"tx": [f"{len(worker_ids)}*popen"]}[name],
                             option=SimpleNamespace(loadscopereorder=True),
                             hook=SimpleNamespace(pytest_collectreport=lambda report: (
                                 reports if reports is not None else []).append(report)))
    scheduler = PinnedGroupScheduling(config)
    workers = {worker_id: FakeWorker(worker_id, (collections or {}).get(worker_id, COLLECTION))
               for worker_id in worker_ids}
    for worker in workers.values():  # in the order the workers came up
        scheduler.add_node(worker)
        scheduler.add_node_collection(worker, worker.collection)
    scheduler.schedule()
    return scheduler, workers


def _finish(scheduler, worker: FakeWorker) -> None:
    """Run everything the worker is sent, including what it is sent meanwhile."""
    done = 0
    while done < len(worker.sent):
        scheduler.mark_test_complete(worker, worker.collection.index(worker.sent[done]))
        done += 1


def test_the_server_tests_go_to_their_worker_even_when_another_comes_up_first():
    scheduler, workers = _scheduled("gw1", SERVERS_WORKER)
    assert workers[SERVERS_WORKER].groups() == {SERVERS_GROUP}
    assert workers["gw1"].groups() == {"infra"}  # the largest group, to the first free worker


def test_a_free_worker_does_not_take_the_server_tests_while_their_worker_is_alive():
    scheduler, workers = _scheduled("gw1", SERVERS_WORKER)
    # Put the server tests back in the queue, as if their worker had not taken them yet.
    scheduler.workqueue[SERVERS_GROUP] = scheduler.assigned_work[workers[SERVERS_WORKER]].pop(
        SERVERS_GROUP)
    workers[SERVERS_WORKER].sent.clear()
    _finish(scheduler, workers["gw1"])
    assert SERVERS_GROUP not in workers["gw1"].groups()
    assert workers["gw1"].shutting_down  # nothing left it may run
    assert SERVERS_GROUP in scheduler.workqueue


def test_the_other_groups_go_to_whichever_worker_is_free():
    scheduler, workers = _scheduled(SERVERS_WORKER, "gw1")
    _finish(scheduler, workers[SERVERS_WORKER])
    assert workers[SERVERS_WORKER].groups() == {SERVERS_GROUP, "unit/test_c.py"}
    assert not scheduler.workqueue


def test_the_server_tests_of_a_crashed_worker_go_to_another():
    scheduler, workers = _scheduled(SERVERS_WORKER, "gw1")
    crashed = workers[SERVERS_WORKER]
    assert scheduler.remove_node(crashed) == COLLECTION[6]  # the first server test it held
    _finish(scheduler, workers["gw1"])
    assert SERVERS_GROUP in workers["gw1"].groups()


def test_a_worker_that_did_not_collect_a_group_never_gets_it():
    # The servers worker comes up first with its partial collection: the run is still the
    # fullest collection, and the infra group goes only to the worker that has it.
    scheduler, workers = _scheduled(SERVERS_WORKER, "gw1",
                                    collections={SERVERS_WORKER: WITHOUT_INFRA})
    assert scheduler.collection == COLLECTION
    assert workers["gw1"].groups() == {"infra"}
    _finish(scheduler, workers[SERVERS_WORKER])
    assert workers[SERVERS_WORKER].groups() == {SERVERS_GROUP, "unit/test_c.py"}
    assert workers[SERVERS_WORKER].shutting_down  # only the infra group could be left
    _finish(scheduler, workers["gw1"])
    assert sorted(workers[SERVERS_WORKER].sent + workers["gw1"].sent) == sorted(COLLECTION)


def test_the_infra_group_waits_for_the_worker_that_collected_it():
    scheduler, workers = _scheduled(SERVERS_WORKER, "gw1",
                                    collections={SERVERS_WORKER: WITHOUT_INFRA})
    # As if gw1 had not taken it yet: the servers worker, once free, still may not.
    scheduler.workqueue["infra"] = scheduler.assigned_work[workers["gw1"]].pop("infra")
    workers["gw1"].sent.clear()
    _finish(scheduler, workers[SERVERS_WORKER])
    assert "infra" not in workers[SERVERS_WORKER].groups() and "infra" in scheduler.workqueue


def test_a_test_only_a_partial_worker_collected_fails_the_run_and_runs_nothing():
    reports = []
    strange = [*WITHOUT_INFRA, "tests/unit/test_d.py::test_0@unit/test_d.py"]
    scheduler, workers = _scheduled(SERVERS_WORKER, "gw1", reports=reports,
                                    collections={SERVERS_WORKER: strange})
    assert not workers["gw1"].sent and not workers[SERVERS_WORKER].sent
    (report,) = reports
    assert report.failed and report.nodeid == SERVERS_WORKER and "test_d.py" in str(report.longrepr)


def test_with_fewer_groups_than_workers_the_partial_worker_is_the_one_shut_down():
    # `-k` leaves one infra test: the servers worker (up first) collected nothing of it.
    scheduler, workers = _scheduled(SERVERS_WORKER, "gw1",
                                    collections={SERVERS_WORKER: [], "gw1": INFRA_TESTS[:1]})
    assert workers["gw1"].sent == INFRA_TESTS[:1]  # the worker that collected it keeps it
    assert workers[SERVERS_WORKER].shutting_down and not workers[SERVERS_WORKER].sent


@pytest.mark.parametrize(("workerinput", "loadgroup", "runs_servers", "leaves"), [
    ({"workerid": SERVERS_WORKER, "workercount": 2}, True, True, True),
    ({"workerid": SERVERS_WORKER, "workercount": 1}, True, True, False),  # nobody else would
    ({"workerid": "gw1", "workercount": 2}, True, True, False),
    ({"workerid": SERVERS_WORKER, "workercount": 2}, False, True, False),  # --dist load
    ({"workerid": SERVERS_WORKER, "workercount": 2}, True, False, False),  # no server tests
    ({}, True, True, False),  # not a worker
])
def test_only_the_servers_worker_with_company_leaves_the_infra_tests(
        workerinput, loadgroup, runs_servers, leaves):
    assert leaves_infra_to_others(workerinput, loadgroup=loadgroup,
                                  runs_servers=runs_servers) is leaves
