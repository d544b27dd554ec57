"""Session set-up shared by every test folder.

- ``lambda/`` on the import path (the Lambda asset root is not a package);
- the estate's one CLI synth starts when the session starts, in the background
  (``estate_synth``), if the session includes ``tests/infra``; the local servers of the
  handler tests start then too, in each process that runs tests, if it includes
  ``tests/integration`` (``integration/early_servers.py``);
- under pytest-xdist (``make test`` runs ``-n 2 --dist loadgroup``), tests are grouped so that
  each expensive session resource is built by one worker only: every infra test (they share
  the assembly) in one group, the tests against the local servers in two more, the review
  tests that read the two synthesized revisions (``revisions``) in another, and each other
  module in its own group (its module fixtures are built once).
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

INFRA = TESTS / "infra"
SERVERS = TESTS / "integration"
# The tests against the local servers take as long as everything else together, so they are
# two groups that xdist can give to both workers (each worker then starts its own SeaweedFS
# and DynamoDB Local, seconds, against a minute of tests); split by measured module time. The
# two browser modules share the second group's Chromium (the outage drill, in the first, has its
# own for its one browser upload: moving it too would overload the second group). xdist hands
# out groups by number of tests: infra (the most) to one worker, this second group (more tests
# than the first) to the other; the infra worker is free first (it mostly waits for the synth)
# and takes the first group, the other worker then takes the small groups (~18 s). Hence the
# second group is given ~15 s more than the first (a fresh clone's infra group takes 30-40 s).
SECOND_SERVERS_GROUP = {"test_browser_upload.py", "test_browser_image_urls.py",
                        "test_restore_drill.py", "test_erase.py", "test_reconcile.py",
                        "test_presign_put.py", "test_presign_post.py",
                        "test_presign_multipart.py", "test_presign_downloads.py",
                        "test_restore_batch.py", "test_upload_gate_handlers.py",
                        "test_presign_scan_gate.py"}


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
    # Each process that runs tests starts its local servers now, in the background: they come
    # up while it collects (every xdist worker gets a group of the handler tests).
    if not controller and _runs(config, SERVERS):
        _early_servers().start()


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
        return "local-servers-2" if path.name in SECOND_SERVERS_GROUP else "local-servers"
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


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    estate_synth.stop()
    if "early_servers" in sys.modules:
        sys.modules["early_servers"].stop()
