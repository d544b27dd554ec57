"""Session set-up shared by every test folder.

- ``lambda/`` on the import path (the Lambda asset root is not a package);
- the estate's one CLI synth starts when the session starts, in the background
  (``estate_synth``), if the session includes ``tests/infra``; the local servers of the
  handler tests start then too, in the process that will run them, if the session includes
  ``tests/integration`` (``integration/early_servers.py``; the outage drill's second
  SeaweedFS too if it includes the drill);
- under pytest-xdist (``make test`` runs ``-n 2 --dist loadgroup``), tests are grouped so that
  each expensive session resource is built by one worker only: every infra test (they share
  the assembly) in one group, the tests against the local servers in another (pinned to the
  first worker, ``pinned_groups.py``), the review tests that read the two synthesized
  revisions (``revisions``) in another, and each other module in its own group (its module
  fixtures are built once). A free worker takes the largest group left.
"""
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# CDK's built-in CloudFormation validation compiles a WebAssembly engine in every process that
# synthesizes (several CPU seconds) and re-reads every template: the small apps the tests build
# in-process, the review tool's revisions and the app-error runs would each pay it. It runs
# once, on the estate's assembly, where the session synth asks for it (estate_synth.py, which
# registers it explicitly: the variable only turns off CDK's default instance).
os.environ.setdefault("CDK_VALIDATION", "false")

# Property tests judge the handlers' answers, not how fast examples are generated: on a loaded
# machine, long text strategies (the 5,000-character filenames) trip Hypothesis's too_slow
# health check, which fails the test though every example passed.
settings.register_profile("suite", suppress_health_check=[HealthCheck.too_slow], deadline=None)
settings.load_profile("suite")

TESTS = Path(__file__).resolve().parent
# The suite's processes share the machine's cores (two workers, the session synth, the local
# servers), so V8's background threads in each jsii kernel (concurrent compilation and garbage
# collection) only add CPU seconds: on 2 cores a synth of the estate takes a quarter fewer and
# CDK's template validation two thirds fewer, in the same wall time. Set before any process
# starts a kernel (the workers and the session synth inherit it).
os.environ.setdefault("JSII_NODE", str(TESTS / "node-single-threaded"))
# `lambda/` is the Lambda asset root, and a Python keyword: put it on the path, not in a package.
sys.path.insert(0, str(TESTS.parent / "lambda"))

import estate_synth  # noqa: E402  (tests/ is on the path: this file's folder)
from pinned_groups import (  # noqa: E402
    SERVERS_GROUP,
    SERVERS_WORKER,
    PinnedGroupScheduling,
    leaves_infra_to_others,
)

INFRA = TESTS / "infra"
SERVERS = TESTS / "integration"
OUTAGE_DRILL = SERVERS / "test_outage_drill.py"  # its own second SeaweedFS


def _includes(arg: str, folder: Path) -> bool:
    path = Path(arg.split("::", 1)[0]).resolve()
    return path == folder or folder in path.parents or path in folder.parents


def _parallel(config: pytest.Config) -> bool:
    """An xdist run: the controller (``-n``/``--dist``) or one of its workers."""
    return hasattr(config, "workerinput") or (
        config.pluginmanager.hasplugin("xdist") and config.getoption("dist", "no") != "no")


def _runs(config: pytest.Config, folder: Path) -> bool:
    return not config.option.collectonly and any(_includes(arg, folder) for arg in config.args)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    # The xdist controller collects nothing: it starts the synth before spawning the workers
    # (they inherit ESTATE_SYNTH_DIR) whenever the run includes the infra tests.
    config = session.config
    controller = _parallel(config) and not hasattr(config, "workerinput")
    if controller and _runs(config, INFRA):
        estate_synth.start()
    # The process that will run the handler tests starts its local servers now, in the
    # background: they come up while it collects. Under xdist that is the one worker the
    # local-server tests are pinned to (pinned_groups.py).
    worker = getattr(config, "workerinput", {}).get("workerid")
    if not controller and _runs(config, SERVERS) and worker in (None, SERVERS_WORKER):
        _early_servers().start(primary_region_s3=_runs(config, OUTAGE_DRILL))


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    # The servers worker leaves tests/infra, and with it the CDK, to the other (pinned_groups.py).
    if (collection_path == INFRA or INFRA in collection_path.parents) and leaves_infra_to_others(
            getattr(config, "workerinput", {}), loadgroup=bool(config.getoption("loadgroup", False)),
            runs_servers=_runs(config, SERVERS)):
        return True
    return None  # pytest's own rules decide


_COLLECTED = pytest.StashKey[list]()


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session):
    # xdist's controller counts the tests of whichever worker reported its collection last;
    # the servers worker's is partial (possibly empty, under -k), and a count of 0 would make
    # pytest exit "no tests collected" after running them all.
    result = yield
    counts = session.config.stash.get(_COLLECTED, [])
    if counts:
        session.testscollected = max(counts)
    return result


@pytest.hookimpl(optionalhook=True)  # an xdist hook, in the controller
def pytest_xdist_node_collection_finished(node, ids) -> None:
    node.config.stash.setdefault(_COLLECTED, []).append(len(ids))


def _early_servers():
    if str(SERVERS) not in sys.path:
        sys.path.insert(0, str(SERVERS))  # as pytest itself does for that folder's conftest
    import early_servers
    return early_servers


def _group(item: pytest.Item) -> str:
    path = Path(str(item.path))
    if "revisions" in getattr(item, "fixturenames", ()):
        return "review-revisions"  # the review tests' two synthesized revisions, built once
    if INFRA in path.parents:
        return "infra"
    if SERVERS in path.parents:
        return SERVERS_GROUP
    return path.relative_to(TESTS).as_posix()


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests that wait for the assembly go last, so everything else runs while it is built.
    items.sort(key=lambda item: "estate" in getattr(item, "fixturenames", ()))
    if _parallel(config):
        for item in items:
            item.add_marker(pytest.mark.xdist_group(_group(item)))
    elif items and "estate" in getattr(items[-1], "fixturenames", ()) \
            and not config.option.collectonly:
        estate_synth.start()


@pytest.hookimpl(optionalhook=True)  # an xdist hook: `-p no:xdist` runs without it
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    if config.getoption("dist") == "loadgroup":
        return PinnedGroupScheduling(config, log)
    return None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    estate_synth.stop()
    if "early_servers" in sys.modules:
        sys.modules["early_servers"].stop()
