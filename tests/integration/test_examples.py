"""Every plugin's EXAMPLES run, as written, against the demo cluster in hvsim."""
import glob
import os

import pytest
import yaml

from hvsim.testing import REPO_ROOT, host_results, run_ansible

pytestmark = pytest.mark.integration

MODULES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(REPO_ROOT, "plugins", "modules", "*.py")))
# The filters' examples build on each other: host_facts, then the view, then the report.
FILTER_ORDER = ["cluster_view", "readiness", "readiness_report", "view_after", "vm_account", "vm_sid", "vss_writers"]


def module_examples(name):
    namespace = {}
    with open(os.path.join(REPO_ROOT, "plugins", "modules", f"{name}.py"), encoding="utf-8") as handle:
        exec(compile(handle.read(), name, "exec"), namespace)  # the docs stubs only assign strings
    return yaml.safe_load(namespace["EXAMPLES"])


def filter_examples(name):
    with open(os.path.join(REPO_ROOT, "plugins", "filter", f"{name}.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(yaml.safe_load(handle)["EXAMPLES"])


def run_tasks(lab, tmp_path, tasks):
    playbook = tmp_path / "examples.yml"
    playbook.write_text(yaml.safe_dump([{"name": "EXAMPLES", "hosts": "hv", "gather_facts": False, "tasks": tasks}]))
    rc, out = run_ansible(lab, "ansible-playbook", str(playbook))
    assert rc == 0, out
    return out


@pytest.mark.parametrize("name", MODULES)
def test_module_examples_run(lab_of, tmp_path, name):
    tasks = module_examples(name)
    assert tasks, f"{name} has no EXAMPLES"
    out = run_tasks(lab_of("demo"), tmp_path, tasks)
    assert all(not result.get("failed") for result in host_results(out).values())


def test_filter_examples_run(lab_of, tmp_path):
    names = sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(REPO_ROOT, "plugins", "filter", "*.yml")))
    assert sorted(FILTER_ORDER) == names, "a new filter: add it to FILTER_ORDER"
    tasks = [{"name": "Read every node", "hyperv.backup.host_facts": None}]
    for name in FILTER_ORDER:
        tasks.extend(filter_examples(name))
    run_tasks(lab_of("demo"), tmp_path, tasks)
