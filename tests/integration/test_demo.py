"""The demo: `make demo` (python -m hvsim demo) and playbooks/demo.yml as a user runs them."""
import json
import subprocess
import sys

import pytest

from hvsim.cli import DEMO_VARS, REPO_ROOT, TOOLS_DIR
from hvsim.testing import ansible_env, run_ansible

pytestmark = pytest.mark.integration


def test_hvsim_demo_checks_the_demo_clusters_backup_account():
    """`make demo` runs `python -m hvsim demo`: it passes LAB\\svc-veeam, so the planted drift (HV03 lacks it) shows."""
    assert DEMO_VARS == {"hv_vss_accounts": ["LAB\\svc-veeam"]}
    env = ansible_env(json_output=False, extra={"PYTHONPATH": TOOLS_DIR})
    proc = subprocess.run([sys.executable, "-m", "hvsim", "demo"], cwd=REPO_ROOT, capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "HV03: LAB\\svc-veeam is not allowed under VssAccessControl" in proc.stdout
    assert "VssAccessControl was not checked" not in proc.stdout


def report(demo_lab, tmp_path, *extra):
    report_file = tmp_path / "report.json"
    rc, out = run_ansible(demo_lab, "playbooks/demo.yml", "-e", f"hv_report_file={report_file}", *extra,
                          json_output=False)
    return rc, out, (json.loads(report_file.read_text()) if rc == 0 else None)


def test_the_playbook_has_no_default_backup_account(demo_lab, tmp_path):
    """On a real host a made-up default account would be reported missing everywhere: a false error."""
    rc, out, found = report(demo_lab, tmp_path)
    assert rc == 0, out
    assert not [f for f in found["findings"] if f["check"] == "vss_access_control"]
    assert "VssAccessControl was not checked: name your backup account" in out
    assert found["summary"]["total"] > 0   # the rest of the planted drift is still reported


def test_an_account_given_as_a_string_is_refused_naming_it(demo_lab, tmp_path):
    rc, out, _ = report(demo_lab, tmp_path, "-e", "hv_vss_accounts=LAB\\svc-veeam")
    assert rc != 0
    assert "policy.vss_accounts: 'LAB\\\\svc-veeam' is a string; give a list of accounts" in out
    assert "_Ansible" not in out and "ansible_collections." not in out

