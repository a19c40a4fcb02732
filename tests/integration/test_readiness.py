"""Through ansible against the demo cluster: host_facts with its events, then cluster_view | readiness finds
every drift planted in the demo model (tools/hvsim/models/make_demo.py), each with the evidence the event
logs hold, and the report renders in every format."""
import json
from datetime import datetime, timedelta

import pytest
from junitparser import JUnitXml

from hvsim.testing import host_results, run_ansible

pytestmark = pytest.mark.integration

ACCOUNT = "LAB\\svc-veeam"


def parse(text):
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def audit(demo_lab, tmp_path_factory):
    """The demo playbook's findings and report files, and the model it ran against."""
    out = tmp_path_factory.mktemp("audit")
    report_file = out / "findings.json"
    rc, text = run_ansible(demo_lab, "playbooks/demo.yml", "-e", json.dumps({
        "hv_vss_accounts": [ACCOUNT], "hv_report_file": str(report_file), "hv_report_dir": str(out)}),
        json_output=False)
    assert rc == 0, text
    return {"result": json.loads(report_file.read_text()), "dir": out, "text": text, "model": demo_lab.read_model()}


def found(audit, check, code=None):
    return {f["object"]["name"]: f for f in audit["result"]["findings"]
            if f["check"] == check and (code is None or f["code"] == f"{check}.{code}")}


def expected_events(model, node, event_id, days=7):
    """The events of ``node`` with ``event_id`` that host_facts reads: the last ``days`` days by the hosts' clock."""
    since = parse(model["clock"]) - timedelta(days=days)
    found_events = [e for n in model["nodes"] if n["name"] == node for e in n.get("events") or []
                    if e["id"] == event_id and parse(e["time"]) >= since]
    return sorted(parse(e["time"]) for e in found_events)


def test_host_facts_reads_the_events_of_each_node_in_one_round_trip(demo_lab):
    demo_lab.clear_journal()
    rc, out = run_ansible(demo_lab, "hv", "-m", "hyperv.backup.host_facts", "-a", "gather_subset=min,events")
    assert rc == 0, out
    results = host_results(out)
    model = demo_lab.read_model()
    for host, result in results.items():
        facts = result["ansible_facts"]["hyperv_backup"]
        logs = facts["event_logs"]
        assert (logs["until"], logs["days"]) == (model["clock"], 7)
        assert [(log["log"], log["status"]) for log in logs["logs"]] == [
            ("Microsoft-Windows-Hyper-V-VMMS-Admin", "read"), ("Microsoft-Windows-Hyper-V-Worker-Admin", "read"),
            ("Application", "read")]
        planted = [e for n in model["nodes"] if n["name"] == host for e in n["events"]
                   if parse(e["time"]) >= parse(logs["since"])]
        assert len(facts["events"]) == len(planted)
    assert sorted(demo_lab.round_trips().items()) == sorted(((host, "host_facts"), 1) for host in results)
    # events_days bounds what is read: a shorter window reads fewer events
    rc, out = run_ansible(demo_lab, "HV02", "-m", "hyperv.backup.host_facts", "-a",
                          "gather_subset=min,events events_days=3")
    assert rc == 0, out
    times = [e["TimeCreated"] for e in host_results(out)["HV02"]["ansible_facts"]["hyperv_backup"]["events"]]
    assert times == ["2026-11-19T02:03:47Z", "2026-11-18T02:04:02Z"]


def test_a_bad_events_option_fails_before_any_round_trip(demo_lab):
    demo_lab.clear_journal()
    rc, out = run_ansible(demo_lab, "hv", "-m", "hyperv.backup.host_facts", "-a", "events_days=0")
    assert rc != 0
    assert all("events_days 0 is out of range; give 1 to 365 days" in r["msg"] for r in host_results(out).values())
    assert demo_lab.journal == []


def test_every_planted_vm_drift_is_found(audit):
    model = audit["model"]
    vms = model["vms"]
    assert set(found(audit, "checkpoint_type")) == {v["name"] for v in vms if v["checkpoint_type"] in ("Standard", "Disabled")}
    assert set(found(audit, "automatic_checkpoints")) == {v["name"] for v in vms if v["automatic_checkpoints"]}
    assert set(found(audit, "scsi_controller")) == {v["name"] for v in vms if not v["scsi_controllers"]}
    assert set(found(audit, "backup_integration")) == {v["name"] for v in vms if not v["backup_integration"]["enabled"]}
    assert set(found(audit, "recovery_checkpoint")) == {v["name"] for v in vms
                                                        if any(c["type"] == "Recovery" for c in v["checkpoints"])}
    version = {v["name"]: tuple(int(p) for p in v["version"].split(".")) for v in vms}
    assert set(found(audit, "vm_version", "no_production_checkpoints")) == {n for n, v in version.items() if v < (6, 2)}
    assert set(found(audit, "vm_version", "no_rct")) == {n for n, v in version.items() if (6, 2) <= v < (8, 0)}
    assert set(found(audit, "vm_state", "saved")) == {v["name"] for v in vms if v["state"] == "Saved"}
    assert len(found(audit, "csv_placement")) == 8
    assert found(audit, "vm_version", "no_rct")["PRINT01"]["fix"]["command"].endswith("| Update-VMVersion")


def test_the_guest_cluster_node_without_its_ace_with_the_merge_failures_as_evidence(audit):
    [finding] = found(audit, "vhd_set_acl").values()
    assert finding["object"]["name"] == "GC-SQL-N2" and finding["code"] == "vhd_set_acl.missing_full_control"
    evidence = finding["evidence"]
    times = expected_events(audit["model"], "HV03", 19100)
    assert evidence["seen"] is True and evidence["count"] == len(times) == 2
    assert (parse(evidence["first"]), parse(evidence["last"])) == (times[0], times[-1])
    # the VM ID was read from the message of these events: they name no VM ID property
    assert all(e["vm_id"] == finding["object"]["id"] for e in evidence["events"])
    [config_store] = found(audit, "config_store_root_path").values()
    assert config_store["code"] == "config_store_root_path.unset" and config_store["severity"] == "error"


def test_the_vm_without_scsi_controller_with_last_nights_10103_as_evidence(audit):
    findings = found(audit, "scsi_controller")
    evidence = findings["LEGACY-ERP"]["evidence"]
    times = expected_events(audit["model"], "HV02", 10103)
    assert evidence["count"] == len(times) == 3  # the fourth, older than 7 days, was not read
    assert [parse(e["time"]) for e in evidence["events"]] == sorted(times, reverse=True)
    assert all(e["node"] == "HV02" and e["id"] == 10103 for e in evidence["events"])
    assert findings["OLD-CRM01"]["evidence"]["seen"] is False  # it is Off: no backup tried it


def test_vss_access_control_denied_and_missing_with_8194_as_evidence(audit):
    findings = found(audit, "vss_access_control")
    assert {name: f["code"] for name, f in findings.items()} == {
        "HV02": "vss_access_control.denied", "HV03": "vss_access_control.missing"}
    assert findings["HV03"]["evidence"]["count"] == len(expected_events(audit["model"], "HV03", 8194)) == 3
    assert findings["HV02"]["evidence"]["seen"] is False
    assert [f["object"]["name"] for f in found(audit, "vss_writer").values()] == ["HV02"]


def test_the_event_no_check_explains_is_reported(audit):
    [finding] = found(audit, "unexplained_event").values()
    assert (finding["object"]["name"], finding["code"], finding["severity"]) == (
        "APP01", "unexplained_event.vmms_10102", "warning")
    assert finding["evidence"]["count"] == 1
    assert "free" in finding["fix"]["text"]


def test_every_finding_is_checked_and_the_report_files_render(audit):
    result = audit["result"]
    for finding in result["findings"]:
        assert finding["object"]["name"] in result["checked"][finding["check"]]
    directory = audit["dir"]
    html = (directory / "readiness.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "GC-SQL-N2" in html and "seen 2 times" in html
    assert (directory / "readiness.md").read_text().startswith("# Hyper-V backup readiness")
    document = json.loads((directory / "readiness.json").read_text())
    assert document["summary"]["total"] == result["summary"]["total"]
    assert document["generated"] == audit["model"]["clock"]  # the hosts' clock
    xml = JUnitXml.fromfile(str(directory / "readiness.junit.xml"))
    assert sum(suite.tests for suite in xml) == document["summary"]["checks"]
    assert sum(suite.failures for suite in xml) == len({(f["check"], f["object"]["name"].casefold())
                                                        for f in result["findings"] if f["severity"] == "error"})
    assert "evidence: seen 3 times, 2026-11-17 02:03 UTC to 2026-11-19 02:03 UTC" in audit["text"]
