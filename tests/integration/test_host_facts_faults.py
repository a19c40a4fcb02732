"""A troubled host through real ansible against hvsim: one troubled VM is a warning, never a failed node;
features are asked of the host; cluster and acl_paths problems are named; what is set is read back."""
import copy
import json

import pytest

from hvsim.testing import run_ansible
from tests.integration import modelkit
from tests.integration.modelkit import model, node

pytestmark = pytest.mark.integration

SQL01 = "d9e0eb0a-5b37-508e-9173-67e9ade83acf"
WEB01 = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
APP01 = "0f8fad5b-d9cb-469f-a165-70867728950e"

MODEL = model(
    [node("HV01"), node("HV02")],
    [
        modelkit.vm("APP01", APP01, "HV01", state="Off", scsi=0, controller="IDE"),
        modelkit.vm("SQL01", SQL01, "HV01"),
        modelkit.vm("WEB01", WEB01, "HV01", state="Off", scsi=0, controller="IDE", checkpoint_type="Standard"),
    ],
)


def lab_with(lab_of, change=None):
    data = copy.deepcopy(MODEL)
    if change:
        change(data)
    return lab_of(data)


def facts(lab, args="", hosts="HV01"):
    rc, results = modelkit.adhoc(lab, "host_facts", args, hosts=hosts)
    return rc, results[hosts]


def vms_of(result):
    return {vm["Name"]: vm for vm in result["ansible_facts"]["hyperv_backup"]["vms"]}


# -- one troubled VM ----------------------------------------------------------------------------------------

def test_a_vm_vanishing_mid_read_is_a_warning_and_the_others_are_reported(lab_of):
    lab = lab_with(lab_of, lambda d: d["faults"].update(vanishing_vms=["SQL01"]))
    rc, result = facts(lab, "gather_subset=vms")
    assert rc == 0, result
    assert set(vms_of(result)) == {"APP01", "WEB01"}
    assert vms_of(result)["WEB01"]["HardDisks"][0]["ControllerType"] == "IDE"
    assert [w for w in result["warnings"] if "SQL01" in w] == [
        f"host_facts: VM 'SQL01' ({SQL01}) was listed on HV01 but is no longer there (moved to another node or "
        "removed while it was read), so it is left out: Hyper-V was unable to find a virtual machine with ID "
        f'"{SQL01}".']


def test_a_vm_in_a_critical_state_is_read_in_part_and_an_apply_task_goes_on(lab_of):
    lab = lab_with(lab_of, lambda d: d["vms"][0].update(state="OffCritical"))   # APP01
    rc, result = facts(lab, "gather_subset=vms")
    assert rc == 0, result
    app01 = vms_of(result)["APP01"]
    assert app01["State"] == "OffCritical" and app01["ScsiControllers"] is None
    assert any(w.startswith(f"host_facts: VM 'APP01' ({APP01}) on HV01 is reported in part") for w in result["warnings"])

    # The apply task gathers first: the read's warning reaches the user, APP01 is left alone, WEB01 is applied.
    rc, results = modelkit.adhoc(lab, "scsi_controller", None, hosts="HV01")
    scsi = results["HV01"]
    assert rc == 0, scsi
    entries = {e["name"]: e for e in scsi["vms"]}
    assert entries["APP01"]["status"] == "pending" and "could not be read" in entries["APP01"]["msg"]
    assert entries["WEB01"]["status"] == "changed"
    assert any("APP01" in w and "reported in part" in w for w in scsi["warnings"])


def test_a_property_that_throws_is_null_with_a_warning(lab_of):
    lab = lab_with(lab_of, lambda d: d["faults"].update(cmdlets=[
        {"cmdlet": "Get-VM", "vm": "WEB01", "property": "Version", "message": "The operation is not valid."}]))
    rc, result = facts(lab, "gather_subset=vms")
    assert rc == 0, result
    assert vms_of(result)["WEB01"]["Version"] is None and vms_of(result)["WEB01"]["Generation"] == 2
    assert f"host_facts: VM 'WEB01' ({WEB01}) on HV01 is reported in part, with null for what could not be read: " \
           "Version (The operation is not valid.)" in result["warnings"]


# -- features are asked of the host -------------------------------------------------------------------------

def test_automatic_checkpoints_support_is_whether_set_vm_has_the_parameter(lab_of):
    lab = lab_with(lab_of, lambda d: d["nodes"][0].update(os_build=20348, set_vm_parameters=["VM", "CheckpointType"]))
    rc, result = facts(lab, "gather_subset=vms")
    assert rc == 0, result
    hv = result["ansible_facts"]["hyperv_backup"]
    assert hv["node"]["OsBuild"] == 20348 and hv["node"]["AutomaticCheckpointsSupported"] is False
    assert {vm["AutomaticCheckpointsEnabled"] for vm in hv["vms"]} == {None}
    # The module asks too: told to set automatic checkpoints there, it fails the VM naming the parameter.
    rc, applied, _ = lab.call("HV01", "checkpoint_type", {"operations": [
        {"id": SQL01, "name": "SQL01", "automatic_checkpoints": False}]})
    assert applied["vms"][0]["status"] == "failed"
    assert applied["vms"][0]["error"] == ("automatic checkpoints are not available on HV01 (build 20348): its Set-VM "
                                          "has no AutomaticCheckpointsEnabled parameter")


# -- verify after set ---------------------------------------------------------------------------------------

def test_a_setting_that_does_not_take_fails_the_vm(lab_of):
    lab = lab_with(lab_of, lambda d: d["faults"].update(cmdlets=[{"cmdlet": "Set-VM", "vm": "WEB01", "ignore": True}]))
    rc, results = modelkit.adhoc(lab, "checkpoint_type", "checkpoint_type=Production", hosts="HV01")
    result = results["HV01"]
    assert rc != 0
    entries = {e["name"]: e for e in result["vms"]}
    assert entries["WEB01"]["status"] == "failed"
    assert entries["WEB01"]["after"] == {"CheckpointType": "Standard"}
    assert entries["WEB01"]["msg"] == ("Set-VM returned without an error, but 'WEB01' still has other settings: "
                                       "CheckpointType is Standard (asked: Production)")
    assert "WEB01: Set-VM returned without an error" in result["msg"]


def test_an_old_configuration_version_is_caught_by_the_read_back(lab_of):
    # The module on its own (the planner may refuse such a VM before sending it).
    lab = lab_with(lab_of, lambda d: d["vms"][2].update(version="5.0"))
    rc, applied, _ = lab.call("HV01", "checkpoint_type", {"operations": [
        {"id": WEB01, "name": "WEB01", "checkpoint_type": "Production"}]})
    item = applied["vms"][0]
    assert item["status"] == "failed" and item["after"]["CheckpointType"] == "Standard"
    assert "Production checkpoints need VM configuration version 6.2 or later and 'WEB01' has 5.0" in item["error"]
    assert "Update-VMVersion" in item["error"]


def test_a_choice_in_another_case_arrives_as_the_enumeration_spells_it(lab_of):
    lab = lab_with(lab_of)
    rc, applied, _ = lab.call("HV01", "checkpoint_type", {"operations": [
        {"id": WEB01, "name": "WEB01", "checkpoint_type": "pRoDuCtIoN"}]})
    assert rc == 0 and applied["vms"][0]["status"] == "changed"
    assert applied["vms"][0]["after"]["CheckpointType"] == "Production"
    assert next(v for v in lab.read_model()["vms"] if v["name"] == "WEB01")["checkpoint_type"] == "Production"


# -- clusters -----------------------------------------------------------------------------------------------

def test_a_cluster_node_without_the_failoverclusters_module_names_the_feature(lab_of):
    lab = lab_with(lab_of, lambda d: d["nodes"][0].update(failover_clusters_module=False))
    message = ("HV01 runs the cluster service (ClusSvc) but has no FailoverClusters PowerShell module, so its "
               "failover cluster cannot be read; install it: Install-WindowsFeature RSAT-Clustering-PowerShell")
    rc, result = facts(lab)
    assert rc != 0 and result["msg"] == f"host_facts: {message}"
    # An apply task reads the cluster too: the host's message reaches the user.
    rc, results = modelkit.adhoc(lab, "checkpoint_type", "checkpoint_type=Production", hosts="HV01")
    assert rc != 0
    assert results["HV01"]["msg"] == f"checkpoint_type: reading the host failed: host_facts: {message}"


def test_a_stopped_cluster_service_is_a_warning_and_cluster_null(lab_of):
    lab = lab_with(lab_of, lambda d: d["nodes"][0].update(cluster_service="Stopped"))
    rc, result = facts(lab, "gather_subset=cluster,vms")
    assert rc == 0, result
    assert result["ansible_facts"]["hyperv_backup"]["cluster"] is None
    assert any(w.startswith("host_facts: the cluster service (ClusSvc) is Stopped on HV01") for w in result["warnings"])
    rc, other = facts(lab, "gather_subset=cluster", hosts="HV02")
    assert rc == 0 and other["ansible_facts"]["hyperv_backup"]["cluster"]["Name"] == "HVCIT"


# -- acl_paths ----------------------------------------------------------------------------------------------

FOLDERS = {
    "C:\\ClusterStorage\\Volume1\\Locked": {"owner": "S-1-5-32-544", "access": [], "denied": True},
    "\\\\FS01\\VMs\\GC": {"owner": "S-1-5-32-544", "access": []},
}


@pytest.mark.parametrize("path, message", [
    ("C:\\ClusterStorage\\Volume1\\Locked",
     "host_facts: acl_paths item 'C:\\ClusterStorage\\Volume1\\Locked' cannot be read on HV01: Access to the path "
     "'C:\\ClusterStorage\\Volume1\\Locked' is denied. The account Ansible connects with needs the right to read its "
     "permissions"),
    ("C:\\ClusterStorage\\Volume1\\Missing",
     "host_facts: acl_paths item 'C:\\ClusterStorage\\Volume1\\Missing' does not exist on HV01"),
    ("\\\\FS01\\VMs\\GC",
     "host_facts: acl_paths item '\\\\FS01\\VMs\\GC' cannot be read from HV01: Access to the path '\\\\FS01\\VMs\\GC' "
     "is denied. A UNC path is read with the credentials of the WinRM session, which do not reach a second machine "
     "without delegation (the double hop): use CredSSP or Kerberos delegation"),
], ids=["denied", "missing", "unc"])
def test_acl_paths_tell_denied_from_missing_and_name_the_double_hop(lab_of, path, message):
    lab = lab_with(lab_of, lambda d: d["folders"].update(copy.deepcopy(FOLDERS)))
    rc, result = facts(lab, json.dumps({"gather_subset": ["min"], "acl_paths": [path]}))
    assert rc != 0
    assert result["msg"].startswith(message)


# -- messages -----------------------------------------------------------------------------------------------

def test_argument_errors_show_no_internal_names(lab_of, tmp_path):
    lab = lab_with(lab_of)
    playbook = tmp_path / "bad.yml"
    playbook.write_text(
        "- hosts: HV01\n  gather_facts: false\n  vars: {d: {a: 1}}\n  tasks:\n"
        "    - {hyperv.backup.scsi_controller: {vms: '{{ d }}'}, ignore_errors: true}\n"
        "    - {hyperv.backup.host_facts: {gather_subset: '{{ d }}'}, ignore_errors: true}\n"
        "    - {hyperv.backup.checkpoint_type: {checkpoint_type: Production, bogus: 1}, ignore_errors: true}\n")
    rc, out = run_ansible(lab, "ansible-playbook", str(playbook))
    assert rc == 0, out
    messages = [task["hosts"]["HV01"]["msg"] for task in out["plays"][0]["tasks"]]
    assert messages[:2] == [
        "argument 'vms' is of type dict and we were unable to convert to list: dict cannot be converted to a list",
        "argument 'gather_subset' is of type dict and we were unable to convert to list: dict cannot be converted "
        "to a list",
    ]
    assert messages[2].startswith("Unsupported parameters for (hyperv.backup.checkpoint_type) module: bogus. "
                                  "Supported parameters include: ")
    assert lab.journal == []
