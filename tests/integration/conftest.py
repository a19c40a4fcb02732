"""Integration tests: real ansible processes against hvsim endpoints served from this test process."""
import pytest

from hvsim.testing import Lab

# The reliability suites' shared checks assert in a helper module: show their values when they fail.
pytest.register_assert_rewrite("tests.integration.reliability")


@pytest.fixture(scope="module")
def demo_lab(tmp_path_factory):
    """The demo cluster, shared by the tests of one module: tests that change it use their own lab."""
    lab = Lab.start("demo", tmp_path_factory.mktemp("demo-lab"))
    yield lab
    lab.stop()


@pytest.fixture
def lab_of(tmp_path):
    """A fresh lab on the given model for one test: ``lab = lab_of("demo")``."""
    labs = []

    def start(model_source):
        lab = Lab.start(model_source, tmp_path / f"lab{len(labs)}")
        labs.append(lab)
        return lab

    yield start
    for lab in labs:
        lab.stop()
