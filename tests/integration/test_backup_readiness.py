"""The collection's main job through ansible against hvsim's demo cluster: audit, converge, converge, audit.

The audit (playbooks/audit.yml --check) finds every planted drift and its gate fails; the converge
(playbooks/backup_readiness.yml) fixes every one a module can fix, in one module run per node for the gather and
one more per capability with changes; the second converge changes nothing and runs only the gather; the last
audit has no error finding and its gate passes. The report of the converge, built from what the modules read
back, says what the last audit finds; its HTML renders in chromium and the JUnit files parse.
"""
import copy
import json
import os
import uuid

import pytest
import yaml
from junitparser import JUnitXml

from hvsim.model import load_file
from hvsim.testing import Lab, model_path, run_ansible
from tests.htmldom import Dom, figure
from tests.integration.test_report_render import chromium

pytestmark = pytest.mark.integration

ACCOUNT = "LAB\\svc-veeam"
STORE = "C:\\ClusterStorage\\Volume1\\Hyper-V\\ConfigStore"
ACCOUNTS = {"hyperv_backup_readiness_vss_accounts": [ACCOUNT]}
CONVERGE = {"hyperv_backup_readiness_config_store_path": STORE, "hyperv_backup_readiness_scsi_running_vms": "restart"}
NODES = ("HV01", "HV02", "HV03")


def gather_only(nodes=NODES):
    return {(node, "host_facts"): 1 for node in nodes}


def play(lab, playbook, *extra, check=False):
    """Run a playbook against the lab; ``(rc, JSON output, round trips)``, the journal cleared before."""
    lab.clear_journal()
    args = [f"playbooks/{playbook}", *(("--check",) if check else ()), "-e", json.dumps(ACCOUNTS)]
    for more in extra:
        args += ["-e", json.dumps(more)]
    rc, out = run_ansible(lab, *args)
    assert isinstance(out, dict), out
    return rc, out, lab.round_trips()


def task_results(out, name_part):
    """``{host: result}`` of the tasks whose name contains ``name_part``."""
    found = {}
    for the_play in out["plays"]:
        for task in the_play["tasks"]:
            if name_part in task["task"]["name"]:
                found.update(task["hosts"])
    return found


def report(directory, name="HVC01"):
    with open(os.path.join(directory, f"{name}.json"), encoding="utf-8") as fh:
        return json.load(fh)


def by_check(document, check, code=None):
    return {f["object"]["name"]: f for f in document["findings"]
            if f["check"] == check and (code is None or f["code"] == f"{check}.{code}")}


def pairs(document, severities=("error", "warning", "info")):
    return sorted((f["check"], f["code"], f["object"]["name"]) for f in document["findings"] if f["severity"] in severities)


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    """audit, converge, converge, audit on a fresh demo cluster: each step's exit code, output, round trips."""
    base = tmp_path_factory.mktemp("readiness")
    lab = Lab.start("demo", base / "lab")
    steps = {}
    try:
        model = lab.read_model()
        for step, playbook, check, extra in (
                ("audit", "audit.yml", True, {"hv_report_dir": str(base / "audit")}),
                ("converge", "backup_readiness.yml", False,
                 dict(CONVERGE, hyperv_backup_readiness_report_dir=str(base / "converge"))),
                ("again", "backup_readiness.yml", False,
                 dict(CONVERGE, hyperv_backup_readiness_report_dir=str(base / "again"))),
                ("final", "audit.yml", True, {"hv_report_dir": str(base / "final")})):
            rc, out, trips = play(lab, playbook, extra, check=check)
            steps[step] = {"rc": rc, "out": out, "trips": trips, "dir": str(base / step), "model": lab.read_model()}
        yield {"model": model, "lab": lab, "base": base, **steps}
    finally:
        lab.stop()


# --- the first audit ---------------------------------------------------------------------------------------

def test_the_audit_finds_every_planted_drift_by_check_and_object(story):
    model, found = story["model"], report(story["audit"]["dir"])
    vms = model["vms"]
    assert set(by_check(found, "checkpoint_type")) == {v["name"] for v in vms if v["checkpoint_type"] in ("Standard", "Disabled")}
    assert set(by_check(found, "automatic_checkpoints")) == {v["name"] for v in vms if v["automatic_checkpoints"]}
    assert set(by_check(found, "scsi_controller")) == {v["name"] for v in vms if not v["scsi_controllers"]} == {
        "LEGACY-ERP", "OLD-CRM01"}
    assert set(by_check(found, "backup_integration")) == {"APP02"}
    assert set(by_check(found, "vm_version", "no_rct")) == {"PRINT01"}
    assert set(by_check(found, "recovery_checkpoint", "stale")) == {"FS01"}
    assert set(by_check(found, "vm_state", "saved")) == {"JUMP01"}
    assert set(by_check(found, "csv_placement", "off_owner")) == {
        "SQL02", "EXCH02", "FS02", "WEB02", "WEB04", "APP03", "LEGACY-ERP", "GC-SQL-N2"}
    assert set(by_check(found, "failback")) == {"SQL02"}
    assert set(by_check(found, "cluster_balancer")) == {"HVC01"}
    assert {name: f["code"] for name, f in by_check(found, "vhd_set_acl").items()} == {
        "GC-SQL-N2": "vhd_set_acl.missing_full_control"}
    assert {name: f["code"] for name, f in by_check(found, "vss_access_control").items()} == {
        "HV02": "vss_access_control.denied", "HV03": "vss_access_control.missing"}
    assert {name: f["code"] for name, f in by_check(found, "vss_writer").items()} == {"HV02": "vss_writer.last_error"}
    assert {name: f["code"] for name, f in by_check(found, "config_store_root_path").items()} == {
        "HVC01": "config_store_root_path.unset"}
    assert {name: f["code"] for name, f in by_check(found, "unexplained_event").items()} == {
        "APP01": "unexplained_event.vmms_10102"}
    # the recent failure events are the evidence of the findings that explain them
    assert by_check(found, "scsi_controller")["LEGACY-ERP"]["evidence"]["count"] == 3
    assert by_check(found, "vhd_set_acl")["GC-SQL-N2"]["evidence"]["count"] == 2
    assert by_check(found, "vss_access_control")["HV03"]["evidence"]["count"] == 3


def test_the_audit_is_one_module_run_per_node_and_changes_nothing(story):
    audit = story["audit"]
    assert audit["trips"] == gather_only()
    assert audit["model"]["vms"] == story["model"]["vms"] and audit["model"]["nodes"] == story["model"]["nodes"]
    # each part said what a converge would change
    assert {host: r["changed"] for host, r in task_results(audit["out"], "Set the checkpoint policy").items()} == {
        "HV01": True, "HV02": True, "HV03": True}


def test_the_gate_fails_the_audit_naming_how_many_findings_of_what(story):
    audit = story["audit"]
    assert audit["rc"] != 0
    [failed] = task_results(audit["out"], "The gate").values()
    errors = sum(1 for f in report(audit["dir"])["findings"] if f["severity"] == "error")
    assert failed["msg"] == (
        f"backup readiness: {errors} finding(s) of severity error or worse remain: HVC01 - 1 backup_integration, "
        "8 checkpoint_type, 1 config_store_root_path, 2 scsi_controller, 1 vhd_set_acl, 2 vss_access_control; "
        f"reports in {audit['dir']}")


# --- the converge ------------------------------------------------------------------------------------------

def test_the_converge_fixes_every_drift_a_module_can_fix(story):
    converge, model = story["converge"], story["converge"]["model"]
    assert converge["rc"] == 0
    vms = {vm["name"]: vm for vm in model["vms"]}
    assert {v["name"] for v in vms.values() if v["checkpoint_type"] not in ("Production", "ProductionOnly")} == set()
    assert vms["SQL01"]["checkpoint_type"] == "ProductionOnly"  # compliant: left alone, never downgraded
    assert [v["name"] for v in vms.values() if v["automatic_checkpoints"]] == []
    assert [v["name"] for v in vms.values() if not v["scsi_controllers"]] == []
    assert (vms["LEGACY-ERP"]["state"], vms["OLD-CRM01"]["state"]) == ("Running", "Off")  # restarted, left off
    assert vms["APP02"]["backup_integration"]["enabled"] is True
    assert {n["name"]: n["vss_access_control"] for n in model["nodes"]} == {n: {ACCOUNT: 1} for n in NODES}
    assert model["cluster"]["parameters"]["ConfigStoreRootPath"] == STORE
    final = report(story["final"]["dir"])
    assert by_check(final, "vhd_set_acl") == {} and by_check(final, "config_store_root_path") == {}
    # every VM off its CSV's owner moved, but the one anti-affinity keeps from its guest cluster partner
    assert set(by_check(final, "csv_placement")) == {"GC-SQL-N2"}


def test_the_converge_is_one_gather_per_node_and_one_run_per_capability_with_changes(story):
    converge = story["converge"]
    [placement] = [r for r in task_results(converge["out"], "Plan and make the moves").values() if "results" in r]
    moves = [m for r in placement["results"] for m in r["moves"]]
    assert moves and all(m["status"] == "moved" for m in moves)
    assert converge["trips"] == {
        **gather_only(),
        ("HV01", "checkpoint_type"): 1, ("HV02", "checkpoint_type"): 1, ("HV03", "checkpoint_type"): 1,
        ("HV01", "scsi_controller"): 1, ("HV02", "scsi_controller"): 1,       # OLD-CRM01, LEGACY-ERP
        ("HV02", "backup_integration"): 1,                                     # APP02
        ("HV02", "vss_access_control"): 1, ("HV03", "vss_access_control"): 1,  # denied, missing
        ("HV01", "vm_folder_access"): 1,                                       # once for the cluster
        ("HV01", "cluster_config_store"): 1,                                   # once for the cluster
        ("HV01", "csv_placement"): len(moves),                                 # one run per move, shown as it ends
    }


def test_the_second_converge_changes_nothing_and_only_gathers(story):
    again = story["again"]
    assert again["rc"] == 0
    assert {host: stats["changed"] for host, stats in again["out"]["stats"].items()} == {n: 0 for n in NODES}
    assert again["trips"] == gather_only()
    assert again["model"] == story["converge"]["model"]


def test_the_report_of_the_converge_says_what_the_last_audit_finds(story):
    """The converge report is built from what the modules read back, without reading the nodes again."""
    converge, final = report(story["converge"]["dir"]), report(story["final"]["dir"])
    assert pairs(converge) == pairs(final)
    placement = converge["placement"]
    off_before = {vm["name"] for vm in placement["before"]["vms"] if vm["on_owner"] is False}
    off_after = {vm["name"] for vm in placement["after"]["vms"] if vm["on_owner"] is False}
    assert len(off_before) == 8 and off_after == {"GC-SQL-N2"}
    assert report(story["audit"]["dir"])["placement"]["after"] is None  # an audit describes one moment


# --- the last audit ------------------------------------------------------------------------------------------

def test_the_last_audit_has_no_error_and_its_gate_passes(story):
    final = story["final"]
    assert final["rc"] == 0
    assert final["trips"] == gather_only()
    found = report(final["dir"])
    assert found["summary"]["by_severity"]["error"] == 0
    # what no module fixes remains, as warnings (and the guest cluster's reminder, as info)
    assert sorted({(f["check"], f["severity"]) for f in found["findings"]}) == [
        ("cluster_balancer", "warning"), ("csv_placement", "warning"), ("failback", "warning"),
        ("guest_cluster", "info"), ("recovery_checkpoint", "warning"), ("unexplained_event", "warning"),
        ("vm_state", "warning"), ("vm_version", "warning"), ("vss_writer", "warning")]
    # the old failures are still in the logs: their checks pass now, and the report says so
    fixed = by_check(found, "unexplained_event")
    assert set(fixed) == {"APP01", "LEGACY-ERP", "GC-SQL-N2", "HV03"}
    assert "the scsi_controller check passes now for it" in fixed["LEGACY-ERP"]["message"]


def test_the_reports_render_in_chromium_and_the_junit_files_parse(story, tmp_path):
    page = os.path.join(story["converge"]["dir"], "HVC01.html")
    dump = chromium("--dump-dom", f"file://{page}", tmp_path=tmp_path)
    dom = Dom(dump)
    converge = report(story["converge"]["dir"])
    assert len(dom.find("tr", "finding")) == converge["summary"]["total"]
    before, after = figure(dump, "before"), figure(dump, "after")
    assert len(before.find("circle", "vm")) == len(after.find("circle", "vm")) == 30
    assert len(before.find("circle", "off")) == 8 and len(after.find("circle", "off")) == 1
    assert len(after.find("circle", "moved")) == 7
    for step in ("audit", "converge", "final"):
        document = report(story[step]["dir"])
        xml = JUnitXml.fromfile(os.path.join(story[step]["dir"], "HVC01.junit.xml"))
        assert sum(suite.tests for suite in xml) == document["summary"]["checks"]
        assert sum(suite.failures for suite in xml) == len({(f["check"], f["object"]["name"].casefold())
                                                            for f in document["findings"] if f["severity"] == "error"})
        with open(os.path.join(story[step]["dir"], "HVC01.md"), encoding="utf-8") as fh:
            assert fh.read().startswith("# Hyper-V backup readiness")


# --- the audit playbook's rules ------------------------------------------------------------------------------

def test_the_audit_refuses_to_run_without_check_before_reading_anything(lab_of):
    lab = lab_of("demo")
    rc, out, trips = play(lab, "audit.yml")
    assert rc != 0 and trips == {}
    assert all("playbooks/audit.yml runs only in check mode" in r["msg"]
               for r in task_results(out, "Refuse to run without --check").values())


def test_the_gate_threshold_is_a_variable(story):
    lab = story["lab"]
    rc, out, _ = play(lab, "audit.yml", {"hv_fail_on": "warning"}, check=True)
    assert rc != 0
    [failed] = task_results(out, "The gate").values()
    warnings = sum(1 for f in report(story["final"]["dir"])["findings"] if f["severity"] != "info")
    assert failed["msg"].startswith(f"backup readiness: {warnings} finding(s) of severity warning or worse remain: "
                                    "HVC01 - 2 cluster_balancer, 1 csv_placement, ")
    rc, out, _ = play(lab, "audit.yml", {"hv_fail_on": "none"}, check=True)
    assert rc == 0 and not task_results(out, "The gate").get("HV01", {}).get("failed")


def test_a_bad_policy_value_fails_once_before_any_host_is_read(lab_of):
    lab = lab_of("demo")
    rc, out, trips = play(lab, "audit.yml", {"hyperv_backup_readiness_vss_accounts": [""]}, check=True)
    assert rc != 0 and trips == {}
    [failed] = task_results(out, "Check the policy once").values()
    assert "policy.vss_accounts: the entry '' is a string" in failed["msg"]


# --- stale facts: the host's read wins -----------------------------------------------------------------------

def facts_of(lab, node, subsets):
    rc, out = run_ansible(lab, node, "-m", "hyperv.backup.host_facts", "-a", json.dumps({"gather_subset": subsets}))
    assert rc == 0, out
    [(_, result)] = [(task["hosts"].keys(), task["hosts"][node]) for p in out["plays"] for task in p["tasks"]]
    return result["ansible_facts"]["hyperv_backup"]


def module(lab, node, name, args):
    lab.clear_journal()
    rc, out = run_ansible(lab, node, "-m", f"hyperv.backup.{name}", "-a", json.dumps(args))
    [result] = [task["hosts"][node] for p in out["plays"] for task in p["tasks"]]
    return rc, result, lab.round_trips()


def test_stale_facts_the_host_reads_each_item_again_and_does_nothing_wrong(lab_of):
    lab = lab_of("demo")
    facts = facts_of(lab, "HV01", ["cluster", "vms"])
    # behind the facts' back: WEB01 got Production checkpoints, and the cluster its ConfigStoreRootPath
    model = lab.read_model()
    [web01] = [vm for vm in model["vms"] if vm["name"] == "WEB01"]
    web01["checkpoint_type"] = "Production"
    model["cluster"]["parameters"]["ConfigStoreRootPath"] = "C:\\ClusterStorage\\Volume2\\Store"
    lab.write_model(model)

    rc, result, trips = module(lab, "HV01", "checkpoint_type", {"checkpoint_type": "Production", "vms": ["WEB01"],
                                                               "facts": facts})
    assert rc == 0 and trips == {("HV01", "checkpoint_type"): 1}  # the facts said it must change: no read first
    [entry] = result["vms"]
    assert (entry["status"], entry["before"], entry["after"]) == ("ok", {"CheckpointType": "Production"},
                                                                 {"CheckpointType": "Production"})
    assert result["changed"] is False
    assert result["warnings"] == ["checkpoint_type: the facts given were older than the host: WEB01 had CheckpointType "
                                  "Production, not Standard, when the host read it again before changing it; it "
                                  "acted on what it read"]

    rc, result, trips = module(lab, "HV01", "cluster_config_store", {"path": STORE, "facts": facts})
    assert trips == {("HV01", "cluster_config_store"): 1}
    assert (result["status"], result["changed"]) == ("conflict", False)
    assert "C:\\ClusterStorage\\Volume2\\Store" in " ".join(result["warnings"])
    after = lab.read_model()
    assert after["cluster"]["parameters"]["ConfigStoreRootPath"] == "C:\\ClusterStorage\\Volume2\\Store"
    assert [vm["checkpoint_type"] for vm in after["vms"] if vm["name"] == "WEB01"] == ["Production"]


def test_facts_without_a_subset_fail_naming_it_and_nothing_is_sent(lab_of):
    lab = lab_of("demo")
    facts = facts_of(lab, "HV02", ["vms"])
    rc, result, trips = module(lab, "HV02", "vss_access_control", {"accounts": [ACCOUNT], "facts": facts})
    assert rc != 0 and trips == {}
    assert result["msg"].startswith("vss_access_control: facts: the facts were gathered without vss_access_control (")


# --- several clusters in one play ----------------------------------------------------------------------------

def second_cluster():
    """The minimal model as cluster HVC02 with nodes HV11 and HV12, and some drift of its own."""
    model = copy.deepcopy(load_file(model_path("minimal")))
    rename = {"HV01": "HV11", "HV02": "HV12"}
    model["cluster"]["name"] = "HVC02"
    for volume in model["cluster"]["shared_volumes"]:
        volume["owner_node"] = rename[volume["owner_node"]]
    for node in model["nodes"]:
        node["name"] = rename[node["name"]]
        node["fqdn"] = f"{node['name'].lower()}.two.example"
    for vm in model["vms"]:
        vm["node"] = rename[vm["node"]]
        vm["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, "hvc02/" + vm["name"]))
    return model


def test_two_clusters_in_one_play_cluster_wide_parts_once_per_cluster_and_a_report_each(lab_of, tmp_path):
    one, two = lab_of("demo"), lab_of(second_cluster())
    inventory = {"all": {"children": {"hv": {"hosts": {}, "vars": {}}}}}
    for lab in (one, two):
        with open(lab.inventory, encoding="utf-8") as fh:
            group = yaml.safe_load(fh)["all"]["children"]["hv"]
        if lab is two:  # another address, as each cluster's nodes have (ansible reuses a connection by address)
            for host in group["hosts"].values():
                host["ansible_host"] = "localhost"
        inventory["all"]["children"]["hv"]["hosts"].update(group["hosts"])
        inventory["all"]["children"]["hv"]["vars"] = group["vars"]
    with open(one.inventory, "w", encoding="utf-8") as fh:  # the first lab's inventory now holds both clusters
        yaml.safe_dump(inventory, fh)
    two.clear_journal()
    reports = tmp_path / "reports"
    rc, out, trips = play(one, "backup_readiness.yml",
                          dict(CONVERGE, hyperv_backup_readiness_report_dir=str(reports)))
    assert rc == 0, out
    # each cluster-wide part on the first node of its own cluster, and only there (HVC02 has no VHD Set to grant
    # access on, and its VMs may be on their CSV's owner already: then the planner sends nothing)
    assert {node: n for (node, module), n in trips.items() if module == "cluster_config_store"} == {"HV01": 1}
    assert {node: n for (node, module), n in two.round_trips().items() if module == "cluster_config_store"} == {"HV11": 1}
    assert {node: n for (node, module), n in trips.items() if module == "vm_folder_access"} == {"HV01": 1}
    assert {node for (node, module) in trips if module == "csv_placement"} == {"HV01"}
    assert {node for (node, module) in two.round_trips() if module in ("vm_folder_access", "csv_placement")} <= {"HV11"}
    assert two.round_trips()[("HV12", "checkpoint_type")] == 1  # WEB01's Standard checkpoints
    for lab in (one, two):
        assert lab.read_model()["cluster"]["parameters"]["ConfigStoreRootPath"] == STORE
    assert sorted(os.listdir(reports)) == sorted(f"{name}.{suffix}" for name in ("HVC01", "HVC02")
                                                 for suffix in ("html", "md", "json", "junit.xml"))
    assert {vm["name"] for vm in report(reports, "HVC02")["placement"]["before"]["vms"]} == {"SQL01", "WEB01"}
    assert len(report(reports, "HVC01")["placement"]["before"]["vms"]) == 30
