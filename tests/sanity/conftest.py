"""The ecosystem gates' marker and shared fixtures (tests/sanity/gatekit.py has the helpers)."""
import pytest

from tests.sanity import gatekit


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "gate: an ecosystem gate, the collection checked with an Ansible tool (tests/sanity/test_gate_*.py); "
                   "`make test-unit` and `make test-ps` leave them out, `make gates` runs only them")
    config.addinivalue_line(
        "markers", "pinned_gate: a heavy ecosystem gate whose verdict is its tool's, not the ansible-core's it runs on "
                   "(ansible-test sanity, ansible-lint, docs site, ansible-builder); `make test` runs it in the pinned "
                   "ansible-core pass only")


@pytest.fixture(scope="session")
def artifact(tmp_path_factory):
    """The collection artifact, built once per test session by ``ansible-galaxy collection build``."""
    return gatekit.build(tmp_path_factory.mktemp("artifact"))


@pytest.fixture(scope="session")
def installed(artifact, tmp_path_factory):
    """A collections path holding only the artifact, installed by ``ansible-galaxy collection install -p``."""
    path = tmp_path_factory.mktemp("installed") / "collections"
    proc = gatekit.run([gatekit.tool("ansible-galaxy"), "collection", "install", "--offline", "-p", path, artifact],
                       cwd=path.parent, env=gatekit.tool_env(ANSIBLE_COLLECTIONS_PATH=path))
    assert proc.returncode == 0, proc.text
    return path
