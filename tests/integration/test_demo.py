"""The demo: `make demo` (python -m hvsim demo: audit, converge, audit) and playbooks/demo.yml (the read-only
report) as a user runs them."""
import json
import os
import subprocess
import sys

import pytest

from hvsim.cli import DEMO_ROLE_VARS, DEMO_VARS, REPO_ROOT, TOOLS_DIR, demo_summary
from hvsim.testing import ansible_env, run_ansible

pytestmark = pytest.mark.integration


def test_hvsim_demo_audits_converges_audits_and_says_where_the_reports_are(tmp_path):
    """`make demo` runs `python -m hvsim demo`: audit (its gate fails), converge, audit (its gate passes), with the
    demo cluster's backup account (HV03 lacks it), then where the reports are and the findings before and after."""
    assert DEMO_VARS == {"hv_vss_accounts": ["LAB\\svc-veeam"]}
    assert DEMO_ROLE_VARS == {"hyperv_backup_readiness_vss_accounts": ["LAB\\svc-veeam"]}
    reports = tmp_path / "reports"
    env = ansible_env(json_output=False, extra={"PYTHONPATH": TOOLS_DIR})
    proc = subprocess.run([sys.executable, "-m", "hvsim", "demo", "--reports", str(reports)], cwd=REPO_ROOT,
                          capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr
    out = proc.stdout
    steps = [line.split()[1] for line in out.splitlines() if line.startswith("== ") and ": ansible-playbook" in line]
    assert steps == ["before:", "converge:", "after:"]
    assert "HV03: LAB\\svc-veeam is not allowed under VssAccessControl" in out
    summary = out[out.index("== the demo: audit, converge, audit"):].splitlines()
    assert summary[1:4] == [f"   before    {reports / 'before'}  (exit code 2)",
                            f"   converge  {reports / 'converge'}  (exit code 0)",
                            f"   after     {reports / 'after'}  (exit code 0)"]
    before, after = (json.loads((reports / step / "HVC01.json").read_text())["summary"]["by_severity"]
                     for step in ("before", "after"))
    assert before["error"] > 0 and after["error"] == 0
    assert summary[4] == (f"   HVC01: before {before['error']} errors, {before['warning']} warnings, {before['info']} info; "
                          f"after 0 errors, {after['warning']} warnings, {after['info']} info")
    assert summary[5] == f"   open {reports / 'before' / 'HVC01.html'} and {reports / 'after' / 'HVC01.html'}"
    assert summary[6] == "   the gate (errors remain) failed before the converge and passes after it"
    for step in ("before", "converge", "after"):
        assert sorted(os.listdir(reports / step)) == ["HVC01.html", "HVC01.json", "HVC01.junit.xml", "HVC01.md"]


def test_the_demo_summary_counts_each_severity_and_says_when_the_gate_did_not_pass(tmp_path):
    for step, errors in (("before", 3), ("after", 1)):
        (tmp_path / step).mkdir()
        (tmp_path / step / "HVC01.json").write_text(json.dumps(
            {"summary": {"by_severity": {"error": errors, "warning": 1, "info": 2}}}))
    lines = demo_summary(str(tmp_path), {"before": 2, "converge": 0, "after": 2})
    assert lines[-3] == "   HVC01: before 3 errors, 1 warning, 2 info; after 1 error, 1 warning, 2 info"
    assert lines[-1] == "   the gate did not go from failing to passing: see the runs above"
    assert "   converge  {}  (exit code 0)".format(tmp_path / "converge") in lines


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

