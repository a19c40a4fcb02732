"""The readiness findings engine: every check (positive and negative), the policy, evidence from the event
logs, unexplained events, and the shape the report takes (``_report.build_report`` checks it)."""
import copy
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import pytest

from ansible_collections.hyperv.backup.plugins.plugin_utils import _report
from ansible_collections.hyperv.backup.plugins.plugin_utils._cluster_view import cluster_view
from ansible_collections.hyperv.backup.plugins.plugin_utils._readiness import (
    DEFAULT_POLICY,
    PolicyError,
    assess,
    evaluate,
    format_report,
    ps_quote,
    summarize,
    validate_policy,
)
from ansible_collections.hyperv.backup.plugins.plugin_utils._sid import vm_sid
from tests.unit.factsdata import node, vm

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
VMMS = "Microsoft-Windows-Hyper-V-VMMS-Admin"
ACCOUNT = "LAB\\svc-veeam"
HOSTILE = "O'Brien $(test); x"
GC_FOLDER = "C:\\ClusterStorage\\Volume1\\GC"


def both_nodes(*vms, hv02=None, **hv01):
    """Facts of both members of HVC01, the VMs on HV01 (HV02's facts get ``hv02`` overrides)."""
    return cluster_view([node("HV01", list(vms), **hv01), node("HV02", [], **(hv02 or {}))])


def checks(findings, check):
    return [f for f in findings if f["check"] == check]


def only(view, check, policy=None):
    """``(findings of check, names it checked)``."""
    result = evaluate(view, policy, NOW)
    return checks(result["findings"], check), result["checked"].get(check)


def event(event_id, when, vm_id=None, log=VMMS, provider=None, message="", level=2):
    """An event as host_facts reports it; ``when`` is hours before NOW."""
    providers = {VMMS: "Microsoft-Windows-Hyper-V-VMMS", "Microsoft-Windows-Hyper-V-Worker-Admin":
                 "Microsoft-Windows-Hyper-V-Worker", "Application": "VSS"}
    time = (NOW - timedelta(hours=when)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"LogName": log, "ProviderName": provider or providers[log], "Id": event_id, "Level": level,
            "TimeCreated": time, "Message": message, "VMId": vm_id}


def with_events(*events, logs=None):
    """host_facts' events subset for one node."""
    return {"events": list(events), "event_logs": {
        "days": 7, "since": "2026-11-16T12:00:00Z", "until": "2026-11-23T12:00:00Z", "max_per_log": 200,
        "logs": logs if logs is not None else [{"log": VMMS, "provider": None, "ids": [10102, 10103, 19100],
                                                "status": "read", "count": len(events), "truncated": False,
                                                "error": None}]}}


def vhds(*guests, folder=GC_FOLDER):
    """The guests share a VHD Set in ``folder``."""
    shared = {"Path": f"{folder}\\data.vhds", "ControllerType": "SCSI", "ControllerNumber": 1,
              "ControllerLocation": 0, "SupportPersistentReservations": True, "IsVhdSet": True}
    for guest in guests:
        guest["HardDisks"] = guest["HardDisks"] + [dict(shared)]
    return guests


def ace(sid, rights="FullControl", inheritance="ObjectInherit", kind="Allow", inherited=False):
    return {"IdentityReference": sid, "Sid": sid, "FileSystemRights": rights, "AccessControlType": kind,
            "InheritanceFlags": inheritance, "PropagationFlags": "None", "IsInherited": inherited}


def acl(*aces, path=GC_FOLDER):
    return {"Path": path, "Owner": "BUILTIN\\Administrators", "OwnerSid": "S-1-5-32-544", "Access": list(aces)}


WRITER = ("Writer name: '{name}'\n   Writer Id: {{{id}}}\n   Writer Instance Id: {{9a2b4c1e-32d4-4b53-8d3c-8b5a1f7d4a10}}\n"
          "   State: [{state}] {label}\n   Last error: {error}\n\n")
HYPERV_WRITER_ID = "66841cd4-6ded-4f4b-8f17-fd23f8ddc3de"


def writers(*rows):
    return "".join(WRITER.format(name=name, id=writer_id, state=state, label=label, error=error)
                   for name, writer_id, state, label, error in rows)


def stable(name, error="No error", writer_id="e8132975-6f93-4464-a53e-1050253ae220"):
    return (name, writer_id, 1, "Stable", error)


# --- a compliant cluster ----------------------------------------------------------------------------------

def test_a_compliant_cluster_has_no_findings_and_every_object_checked():
    view = cluster_view([node("HV01", [vm("SQL01")], vss_writers_text=writers(stable("System Writer"))),
                         node("HV02", [vm("WEB01", volume=2)])])
    result = evaluate(view, {"vss_accounts": [ACCOUNT]}, NOW)
    assert result["findings"] == []
    for check in ("vm_facts", "vm_state", "checkpoint_type", "automatic_checkpoints", "scsi_controller",
                  "backup_integration", "recovery_checkpoint", "csv_placement"):
        assert result["checked"][check] == ["SQL01", "WEB01"], check
    assert "vm_version" not in result["checked"]  # the facts have no Version: nothing to judge
    assert result["checked"]["config_store_root_path"] == ["HVC01"]
    assert result["checked"]["node_state"] == ["HV01", "HV02"]
    assert result["checked"]["vss_access_control"] == ["HV01", "HV02"]
    assert result["checked"]["vss_writer"] == ["HV01", "HV02"]
    assert "event_logs" not in result["checked"]  # the events were not read


# --- the VM checks ----------------------------------------------------------------------------------------

def test_vm_facts_one_warning_for_what_the_host_could_not_read_and_no_false_findings():
    # host_facts reports null for what it could not read (a VM in a critical state, a property that threw).
    view = both_nodes(vm("CRIT01", node_state="OffCritical", CheckpointType=None, ScsiControllers=None,
                         Checkpoints=None, HardDisks=None))
    findings = assess(view, None, NOW)
    assert [(f["check"], f["code"]) for f in findings] == [("vm_state", "vm_state.critical"), ("vm_facts", "vm_facts.unread")]
    assert "CheckpointType, ScsiControllers, HardDisks, Checkpoints" in findings[1]["message"]
    assert "OffCritical" in findings[1]["message"]
    found, checked = only(both_nodes(vm("OK01")), "vm_facts")
    assert found == [] and checked == ["OK01"]


@pytest.mark.parametrize("state, code, severity, command", [
    ("Paused", "vm_state.paused", "warning", "Resume-VM"),
    ("Saved", "vm_state.saved", "warning", "Start-VM"),
    ("RunningCritical", "vm_state.critical", "error", None),
])
def test_vm_state_paused_saved_or_critical(state, code, severity, command):
    [finding], _ = only(both_nodes(vm(HOSTILE, node_state=state)), "vm_state")
    assert (finding["code"], finding["severity"]) == (code, severity)
    if command:
        assert finding["fix"]["command"] == f"Get-VM -Id '{vm(HOSTILE)['Id']}' | {command}"


@pytest.mark.parametrize("state", ["Running", "Off"])
def test_vm_state_running_or_off_passes(state):
    found, checked = only(both_nodes(vm("A", node_state=state)), "vm_state")
    assert found == [] and checked == ["A"]


def test_checkpoint_type_default_policy_accepts_what_checkpoint_type_production_leaves_alone():
    assert validate_policy(None) == DEFAULT_POLICY
    assert DEFAULT_POLICY["checkpoint_types"] == ["Production", "ProductionOnly"]
    view = both_nodes(vm("ONLY01", CheckpointType="ProductionOnly"), vm("PROD01"), vm("STD01", CheckpointType="Standard"))
    [finding], checked = only(view, "checkpoint_type")
    assert finding["target"] == "STD01" and finding["code"] == "checkpoint_type.not_compliant"
    assert finding["fix"] == {"text": "hyperv.backup.checkpoint_type with checkpoint_type=Production",
                              "module": "hyperv.backup.checkpoint_type", "role": "hyperv.backup.checkpoint_policy",
                              "command": None}
    assert checked == ["ONLY01", "PROD01", "STD01"]


def test_checkpoint_type_a_policy_of_other_types_gives_a_fix_that_reproduces_it():
    [finding], _ = only(both_nodes(vm("PROD01")), "checkpoint_type", {"checkpoint_types": ["productiononly"]})
    assert finding["fix"]["text"] == "hyperv.backup.checkpoint_type with checkpoint_type=ProductionOnly"
    assert "not ProductionOnly" in finding["message"]
    [finding], _ = only(both_nodes(vm("OFF01", CheckpointType="Disabled")), "checkpoint_type",
                        {"checkpoint_types": ["Production"]})
    assert finding["fix"]["text"].endswith("checkpoint_type=Production compliant_types=Production")
    assert only(both_nodes(vm("STD01", CheckpointType="Standard")), "checkpoint_type",
                {"checkpoint_types": ["Standard", "Production"]})[0] == []


def test_checkpoint_type_a_vm_too_old_for_production_checkpoints_is_told_to_upgrade_first():
    [finding], _ = only(both_nodes(vm(HOSTILE, CheckpointType="Standard", Version="5.0")), "checkpoint_type")
    command = f"Get-VM -Id '{vm(HOSTILE)['Id']}' | Update-VMVersion"
    assert finding["fix"]["command"] == command
    assert finding["fix"]["text"].startswith(f"on HV01, with the VM off: {command} (configuration version 5.0")
    assert finding["fix"]["text"].endswith("then hyperv.backup.checkpoint_type with checkpoint_type=Production")


def test_automatic_checkpoints():
    view = both_nodes(vm("AUTO01", AutomaticCheckpointsEnabled=True), vm("MAN01"),
                      vm("OLDHOST01", AutomaticCheckpointsEnabled=None))
    [finding], checked = only(view, "automatic_checkpoints")
    assert finding["target"] == "AUTO01" and finding["severity"] == "warning"
    assert finding["fix"]["text"] == "hyperv.backup.checkpoint_type with automatic_checkpoints=false"
    assert checked == ["AUTO01", "MAN01"]  # a Windows Server 2016 host has none: not checked
    for policy in ({"automatic_checkpoints": True}, {"automatic_checkpoints": None}):
        assert only(view, "automatic_checkpoints", policy) == ([], None)


def test_scsi_controller():
    view = both_nodes(vm("NOSCSI01", Generation=1, ScsiControllers=[]), vm("ONE01"), vm("UNREAD01", ScsiControllers=None))
    [finding], checked = only(view, "scsi_controller")
    assert finding["target"] == "NOSCSI01" and finding["severity"] == "error"
    assert finding["errors"] == [{"source": "Hyper-V-VMMS", "id": 10103}]
    assert (finding["fix"]["module"], finding["fix"]["role"]) == ("hyperv.backup.scsi_controller", "hyperv.backup.scsi_controllers")
    assert checked == ["NOSCSI01", "ONE01"]
    found, _ = only(view, "scsi_controller", {"scsi_controllers": 2})
    assert [f["target"] for f in found] == ["NOSCSI01", "ONE01"]
    assert only(view, "scsi_controller", {"scsi_controllers": 0})[0] == []


def test_backup_integration():
    view = both_nodes(vm("NOVSS01", BackupIntegration={"Enabled": False, "PrimaryStatusDescription": None}),
                      vm("VSS01"), vm("NONE01", BackupIntegration=None))
    [finding], checked = only(view, "backup_integration")
    assert finding["target"] == "NOVSS01" and finding["code"] == "backup_integration.disabled"
    assert finding["fix"]["module"] == "hyperv.backup.backup_integration"
    assert finding["errors"] == [{"source": "Hyper-V-VMMS", "id": 10102}]
    assert checked == ["NOVSS01", "VSS01"]


def test_vm_version_below_6_2_and_below_8_0():
    view = both_nodes(vm("V5", Version="5.0"), vm("V7", Version="7.1"), vm("V8", Version="8.0"), vm("V10", Version="10.0"),
                      vm("VX", Version="unknown"))
    found, checked = only(view, "vm_version")
    assert [(f["target"], f["code"], f["severity"]) for f in found] == [
        ("V5", "vm_version.no_production_checkpoints", "error"), ("V7", "vm_version.no_rct", "warning")]
    assert found[0]["fix"]["command"] == f"Get-VM -Id '{vm('V5')['Id']}' | Update-VMVersion"
    assert checked == ["V10", "V5", "V7", "V8"]  # the view's order
    # a policy content with Standard checkpoints still wants resilient change tracking
    found, _ = only(view, "vm_version", {"checkpoint_types": ["Standard"]})
    assert [(f["target"], f["code"]) for f in found] == [("V5", "vm_version.no_rct"), ("V7", "vm_version.no_rct")]


def recovery(name, created, kind="Recovery"):
    return {"Id": name, "Name": name, "SnapshotType": kind, "CreationTime": created, "ParentCheckpointId": None}


def test_recovery_checkpoint_older_than_the_policy():
    view = both_nodes(vm(HOSTILE, Checkpoints=[recovery("Backup - (11/1/2026)", "2026-11-01T08:00:00Z"),
                                               recovery("later", "2026-11-10T08:00:00Z")]),
                      vm("NEW01", Checkpoints=[recovery("fresh", "2026-11-23T11:00:00Z")]),
                      vm("STD01", Checkpoints=[recovery("manual", "2026-01-01T00:00:00Z", "Standard")]))
    [finding], checked = only(view, "recovery_checkpoint")
    assert finding["target"] == HOSTILE
    assert finding["message"] == "recovery checkpoint 'Backup - (11/1/2026)' is 22 days old (and 1 more)"
    assert finding["fix"]["command"] == (f"Get-VM -Id '{vm(HOSTILE)['Id']}' | Get-VMSnapshot -SnapshotType Recovery "
                                         "| Remove-VMSnapshot")
    assert finding["errors"] == [{"source": "Hyper-V-VMMS", "id": 19100}]
    assert checked == ["NEW01", HOSTILE, "STD01"]
    assert only(view, "recovery_checkpoint", {"recovery_checkpoint_max_age_hours": 24 * 30})[0] == []


def test_recovery_checkpoint_of_a_guest_cluster_never_merges():
    [guest] = vhds(vm("GC01", Checkpoints=[recovery("Backup", "2026-11-01T08:00:00Z")]))
    [finding], _ = only(both_nodes(guest), "recovery_checkpoint")
    assert "never merges while the guest cluster runs" in finding["impact"]


def test_csv_placement_off_the_owner_of_the_csv_holding_most_of_the_disks():
    away = vm("AWAY01", volume=2)  # lives on Volume2 (HV02's), runs on HV01
    split = vm("SPLIT01")  # configuration on Volume1, its two disks on Volume2: its CSV is Volume2
    split["HardDisks"] = [dict(d, Path=d["Path"].replace("Volume1", "Volume2")) for d in split["HardDisks"] * 2]
    view = both_nodes(away, split, vm("HOME01"), vm("LOCAL01", IsClustered=False, volume=2))
    found, checked = only(view, "csv_placement")
    assert [f["target"] for f in found] == ["AWAY01", "SPLIT01"]
    assert found[0]["message"] == "runs on HV01, but HV02 owns its CSV, Cluster Disk 2"
    assert found[0]["fix"]["module"] == "hyperv.backup.csv_placement" and found[0]["fix"]["role"] == "hyperv.backup.csv_affinity"
    assert found[0]["fix"]["command"] == (f"Move-ClusterVirtualMachineRole -VMId '{away['Id']}' -Node 'HV02' "
                                          "-MigrationType Live")
    assert checked == ["AWAY01", "HOME01", "SPLIT01"]  # a VM the cluster does not manage is not checked
    assert only(view, "csv_placement", {"vm_on_csv_owner": False}) == ([], None)


def test_csv_placement_skips_a_volume_that_is_not_online():
    facts = [node("HV01", [vm("AWAY01", volume=2)]), node("HV02", [])]
    for each in facts:
        each["cluster"]["SharedVolumes"][1]["State"] = "Offline"
    assert only(cluster_view(facts), "csv_placement") == ([], None)


def roles(view, **by_vm):
    view = copy.deepcopy(view)
    ids = {v["Name"]: v["Id"] for v in view["vms"]}
    view["cluster"]["VMRoles"] = [dict({"Name": name, "VMId": ids[name], "OwnerNode": "HV01", "State": "Online",
                                        "AntiAffinityClassNames": []}, **values) for name, values in by_vm.items()]
    return view


def test_failback_to_a_preferred_owner_that_does_not_own_the_csv():
    view = both_nodes(vm(HOSTILE), vm("STAY01"), vm("OFF01"), vm("NOPREF01"))
    view = roles(view, **{HOSTILE: {"PreferredOwners": ["HV02", "HV01"], "AutoFailbackType": 1},
                          "STAY01": {"PreferredOwners": ["HV01"], "AutoFailbackType": 1},
                          "OFF01": {"PreferredOwners": ["HV02"], "AutoFailbackType": 0},
                          "NOPREF01": {"PreferredOwners": [], "AutoFailbackType": 1}})
    [finding], checked = only(view, "failback")
    assert finding["target"] == HOSTILE
    assert "first preferred owner is HV02, not HV01" in finding["message"]
    assert finding["fix"]["command"] == "(Get-ClusterGroup -Name 'O''Brien $(test); x').AutoFailbackType = 0"
    assert checked == ["NOPREF01", HOSTILE, "OFF01", "STAY01"]
    assert only(both_nodes(vm("A")), "failback") == ([], None)  # not reported by the hosts: not checked


def balancers(**values):
    facts = [node("HV01", []), node("HV02", [])]
    for each in facts:
        each["cluster"].update(values)
    return cluster_view(facts)


def test_cluster_balancers_that_would_undo_an_alignment():
    found, checked = only(balancers(CsvBalancer=1, AutoBalancerMode=2, AutoBalancerLevel=1), "cluster_balancer")
    assert [(f["code"], f["severity"], f["fix"]["command"]) for f in found] == [
        ("cluster_balancer.csv_balancer", "warning", "(Get-Cluster).CsvBalancer = 0"),
        ("cluster_balancer.vm_load_balancing", "warning", "(Get-Cluster).AutoBalancerMode = 0")]
    assert "every 30 minutes" in found[1]["message"] and "level 1" in found[1]["message"]
    assert checked == ["HVC01"]
    [found], _ = only(balancers(CsvBalancer=0, AutoBalancerMode=1), "cluster_balancer")
    assert found["severity"] == "info"
    assert only(balancers(CsvBalancer=0, AutoBalancerMode=0), "cluster_balancer") == ([], ["HVC01"])
    assert only(balancers(), "cluster_balancer") == ([], None)
    assert only(balancers(CsvBalancer=1), "cluster_balancer", {"vm_on_csv_owner": False}) == ([], None)


# --- VHD Set folders --------------------------------------------------------------------------------------

def test_vhd_set_acl_needs_full_control_with_object_inheritance_per_vm():
    n1, n2 = vhds(vm("GC-N1"), vm(HOSTILE))
    view = both_nodes(n1, n2, acls=[acl(ace(vm_sid(n1["Id"])))])
    [finding], checked = only(view, "vhd_set_acl")
    sid = vm_sid(n2["Id"])
    assert finding["object"] == {"kind": "vm", "name": HOSTILE, "id": n2["Id"], "node": "HV01"}
    assert finding["code"] == "vhd_set_acl.missing_full_control"
    assert GC_FOLDER in finding["message"]
    assert finding["fix"]["command"] == f"icacls.exe 'C:\\ClusterStorage\\Volume1\\GC' /grant '*{sid}:(OI)F'"
    assert (finding["fix"]["module"], finding["fix"]["role"]) == ("hyperv.backup.vm_folder_access", "hyperv.backup.vhds_permissions")
    assert {"source": "Hyper-V-VMMS", "id": 19100} in finding["errors"]
    assert checked == ["GC-N1", HOSTILE]


def test_vhd_set_acl_commands_take_the_folder_as_data():
    folder = "C:\\ClusterStorage\\Volume1\\O'Brien $(Stop-Computer) `x` \u6570\u636e"
    guest, = vhds(vm("GC-N1"), folder=folder)
    [finding], _ = only(both_nodes(guest, acls=[acl(path=folder)]), "vhd_set_acl")
    assert finding["fix"]["command"] == (
        "icacls.exe 'C:\\ClusterStorage\\Volume1\\O''Brien $(Stop-Computer) `x` \u6570\u636e' "
        f"/grant '*{vm_sid(guest['Id'])}:(OI)F'")


def test_vhd_set_acl_judges_as_vm_folder_access_does():
    n1, n2, n3 = vhds(vm("GC-N1"), vm("GC-N2"), vm("GC-N3"))
    view = both_nodes(n1, n2, n3, vhd_set_acls=[acl(
        ace(vm_sid(n1["Id"]), inheritance="ContainerInherit, ObjectInherit"),  # more than needed: counts
        ace(vm_sid(n2["Id"]), inheritance="None"),                            # no (OI): does not count
        ace(vm_sid(n3["Id"]), kind="Deny", rights="Write"))])                  # an explicit deny
    found, _ = only(view, "vhd_set_acl")
    assert [(f["target"], f["code"]) for f in found] == [("GC-N2", "vhd_set_acl.missing_full_control"),
                                                         ("GC-N3", "vhd_set_acl.denied")]
    assert "has no object inheritance" in found[0]["message"]
    assert found[1]["fix"]["command"] == f"icacls.exe '{GC_FOLDER}' /remove:d '*{vm_sid(n3['Id'])}'"


def test_vhd_set_acl_not_read_or_not_understood():
    n1, = vhds(vm("GC-N1"))
    [finding], _ = only(both_nodes(n1), "vhd_set_acl")
    assert (finding["code"], finding["severity"]) == ("vhd_set_acl.not_read", "info")
    [finding], _ = only(both_nodes(n1, acls=[acl(ace(vm_sid(n1["Id"]), rights="Telepathy"))]), "vhd_set_acl")
    assert (finding["code"], finding["severity"]) == ("vhd_set_acl.not_understood", "warning")


def test_guest_cluster_requirements_inside_the_guest_become_an_error_when_an_event_shows_them():
    n1, n2 = vhds(vm("GC-N1"), vm("GC-N2"))
    [finding], checked = only(both_nodes(n1, n2), "guest_cluster")
    assert (finding["severity"], finding["object"]["kind"], checked) == ("info", "folder", [GC_FOLDER])
    assert [e["id"] for e in finding["errors"]] == [32768, 32770, 32775]
    assert finding["evidence"] is None
    message = "Error code: '32770'. Active-active access is not supported for the shared VHDX in VM group"
    view = both_nodes(n1, n2, **with_events(event(10102, 5, n2["Id"], message=message)))
    [finding], _ = only(view, "guest_cluster")
    assert finding["severity"] == "error" and finding["evidence"]["count"] == 1
    # a number that is no error code, and an event of a VM that is not a guest, show nothing
    other = vm("OTHER01")
    view = both_nodes(n1, n2, other, **with_events(event(10102, 5, n2["Id"], message="32770 MB free"),
                                                   event(10102, 5, other["Id"], message=message)))
    [finding], _ = only(view, "guest_cluster")
    assert finding["severity"] == "info" and finding["evidence"]["seen"] is False


# --- the cluster ------------------------------------------------------------------------------------------

def config_store(value, *vms):
    facts = [node("HV01", list(vms)), node("HV02", [])]
    for each in facts:
        each["cluster"]["Parameters"] = {"ConfigStoreRootPath": value}
    return cluster_view(facts)


def test_config_store_root_path():
    guest, = vhds(vm("GC-N1"))
    [finding], checked = only(config_store("", guest), "config_store_root_path")
    assert (finding["code"], finding["severity"], checked) == ("config_store_root_path.unset", "error", ["HVC01"])
    assert finding["fix"]["module"] == "hyperv.backup.cluster_config_store"
    assert finding["errors"] == [{"source": "Hyper-V WMI job", "id": 32768}]
    assert only(config_store("", vm("A")), "config_store_root_path") == ([], ["HVC01"])  # no VHD Set: not needed
    [finding], _ = only(config_store(None, copy.deepcopy(guest)), "config_store_root_path")
    assert finding["code"] == "config_store_root_path.no_resource"
    [finding], _ = only(config_store("D:\\ConfigStore", copy.deepcopy(guest)), "config_store_root_path")
    assert (finding["code"], finding["severity"]) == ("config_store_root_path.not_on_csv", "warning")
    assert only(config_store("C:\\ClusterStorage\\Volume2\\Store", copy.deepcopy(guest)), "config_store_root_path")[0] == []


def test_nodes_not_up_or_not_reporting():
    facts = node("HV01", [])
    facts["cluster"]["Nodes"][1]["State"] = "Paused"
    facts["cluster"]["Nodes"].append({"Name": "HV03", "State": "Up", "Id": "3"})
    facts["cluster"]["Nodes"].append({"Name": "HV04", "State": "Down", "Id": "4"})
    paused = node("HV02", [], cluster=True)
    paused["cluster"] = copy.deepcopy(facts["cluster"])
    result = evaluate(cluster_view([facts, paused]), None, NOW)
    assert [(f["check"], f["target"], f["severity"]) for f in result["findings"] if f["check"].startswith("node")] == [
        ("node_facts", "HV03", "warning"), ("node_state", "HV02", "warning"), ("node_state", "HV04", "warning"),
        ("node_facts", "HV04", "info")]
    assert result["checked"]["node_state"] == ["HV01", "HV02", "HV03", "HV04"]


# --- VSS ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("values, code", [
    ({}, "vss_access_control.missing"),
    ({ACCOUNT: 0}, "vss_access_control.denied"),
    ({ACCOUNT: 2}, "vss_access_control.requester_only"),
    ({ACCOUNT: "1"}, "vss_access_control.invalid"),
])
def test_vss_access_control_missing_or_not_allowed(values, code):
    view = both_nodes(vss_access_control=values)
    [finding], checked = only(view, "vss_access_control", {"vss_accounts": [ACCOUNT]})
    assert (finding["target"], finding["code"], finding["severity"]) == ("HV01", code, "error")
    assert finding["message"].startswith(f"{ACCOUNT} is not allowed under VssAccessControl: it ")
    assert finding["errors"] == [{"source": "VSS", "id": 8194}]
    assert finding["fix"]["module"] == finding["fix"]["role"] == "hyperv.backup.vss_access_control"
    assert checked == ["HV01", "HV02"]


def test_vss_access_control_allowed_in_any_case_or_not_asked():
    view = both_nodes(vss_access_control={"lab\\SVC-VEEAM": 3})
    assert only(view, "vss_access_control", {"vss_accounts": [ACCOUNT]}) == ([], ["HV01", "HV02"])
    assert only(both_nodes(vss_access_control={}), "vss_access_control") == ([], None)


def test_one_account_is_one_finding_not_one_per_character():
    view = both_nodes(vss_access_control={}, hv02={"vss_access_control": {}})
    found, _ = only(view, "vss_access_control", {"vss_accounts": ["LAB\\svc"]})
    assert [(f["target"], f["message"].split(" is not")[0]) for f in found] == [("HV01", "LAB\\svc"), ("HV02", "LAB\\svc")]


def test_vss_writers_not_stable_or_with_an_error():
    text = writers(stable("System Writer"), stable("WMI Writer"), stable("Registry Writer", "Retryable error"),
                   ("Microsoft Hyper-V VSS Writer", HYPERV_WRITER_ID, 5, "Waiting for completion", "Retryable error"),
                   ("Task Scheduler Writer", "d61d61c8-d73a-4eee-8cdd-f6f9786b7124", 2, "Waiting for freeze", "No error"))
    found, checked = only(both_nodes(vss_writers_text=text), "vss_writer")
    assert [(f["code"], f["severity"]) for f in found] == [
        ("vss_writer.not_stable", "error"), ("vss_writer.last_error", "warning"), ("vss_writer.not_stable", "warning")]
    assert found[0]["fix"]["command"] == ("Suspend-ClusterNode -Name 'HV01' -Drain -Wait; Restart-Service -Name vmms; "
                                          "Resume-ClusterNode -Name 'HV01' -Failback Immediate")
    assert "'Registry Writer' is Stable but its last error is: Retryable error" in found[1]["message"]
    assert checked == ["HV01", "HV02"]
    standalone = cluster_view([node("HOST1", [], cluster=False, vss_writers_text=writers(
        ("Microsoft Hyper-V VSS Writer", HYPERV_WRITER_ID, 9, "Failed", "Timed out")))])
    [finding], _ = only(standalone, "vss_writer")
    assert finding["fix"]["command"] == "Restart-Service -Name vmms"


def test_vss_writers_last_error_is_judged_without_knowing_the_language():
    text = writers(stable("A", "Kein Fehler"), stable("B", "Kein Fehler"), stable("C", "Kein Fehler"),
                   stable("D", "Wiederholbarer Fehler"))
    [finding], _ = only(both_nodes(vss_writers_text=text), "vss_writer")
    assert "'D' is Stable but its last error is: Wiederholbarer Fehler" in finding["message"]
    # too few writers to tell what means no error: only states are judged
    assert only(both_nodes(vss_writers_text=writers(stable("A", "Kein Fehler"), stable("B", "Fehler"))), "vss_writer")[0] == []


# --- the event logs and evidence --------------------------------------------------------------------------

def test_event_logs_that_could_not_be_read_were_missing_or_cut():
    logs = [{"log": VMMS, "provider": None, "ids": [10103], "status": "failed", "count": 0, "truncated": False,
             "error": "Attempted to perform an unauthorized operation."},
            {"log": "Microsoft-Windows-Hyper-V-Worker-Admin", "provider": None, "ids": [18590], "status": "missing",
             "count": 0, "truncated": False, "error": None},
            {"log": "Application", "provider": "VSS", "ids": [8194], "status": "read", "count": 200,
             "truncated": True, "error": None}]
    found, checked = only(both_nodes(**with_events(logs=logs)), "event_logs")
    assert [(f["code"], f["severity"]) for f in found] == [
        ("event_logs.unreadable", "warning"), ("event_logs.missing", "info"), ("event_logs.truncated", "info")]
    assert "unauthorized" in found[0]["message"] and "Application (VSS) had more than 200" in found[2]["message"]
    assert checked == ["HV01"]
    assert only(both_nodes(**with_events()), "event_logs") == ([], ["HV01"])


def test_evidence_matches_the_vm_by_id_on_any_node_counts_and_lists_the_newest_first():
    legacy = vm(HOSTILE, Generation=1, ScsiControllers=[])
    other = vm("OTHER01", Generation=1, ScsiControllers=[])
    hv01 = with_events(*(event(10103, hours, legacy["Id"].upper()) for hours in (30, 6, 54, 78, 102, 126, 150)),
                       event(10103, 3, other["Id"]), event(19100, 2, legacy["Id"]))
    hv02 = with_events(event(10103, 4, legacy["Id"]))  # logged where the VM ran before it moved
    view = both_nodes(legacy, other, hv02=hv02, **hv01)
    found, _ = only(view, "scsi_controller")
    by_name = {f["target"]: f["evidence"] for f in found}
    evidence = by_name[HOSTILE]
    assert evidence["seen"] is True and evidence["count"] == 8
    assert (evidence["first"], evidence["last"]) == ("2026-11-17T06:00:00Z", "2026-11-23T08:00:00Z")
    assert [e["time"] for e in evidence["events"]] == ["2026-11-23T08:00:00Z", "2026-11-23T06:00:00Z",
                                                       "2026-11-22T06:00:00Z", "2026-11-21T06:00:00Z",
                                                       "2026-11-20T06:00:00Z"]
    assert [e["node"] for e in evidence["events"]][:2] == ["HV02", "HV01"]
    assert evidence["events"][0]["vm_id"] == legacy["Id"]
    assert by_name["OTHER01"]["count"] == 1


def test_evidence_of_a_node_is_that_node_s_events_only():
    vss = event(8194, 10, log="Application", message="hr = 0x80070005, Access is denied.")
    view = both_nodes(vss_access_control={}, hv02={"vss_access_control": {}, **with_events()}, **with_events(vss))
    found, _ = only(view, "vss_access_control", {"vss_accounts": [ACCOUNT]})
    assert [(f["target"], f["evidence"]["count"]) for f in found] == [("HV01", 1), ("HV02", 0)]


def test_evidence_is_null_where_the_events_were_not_read_or_no_event_shows_the_finding():
    legacy = vm("LEGACY", Generation=1, ScsiControllers=[], CheckpointType="Standard")
    view = both_nodes(legacy, vss_access_control={})
    result = evaluate(view, {"vss_accounts": [ACCOUNT]}, NOW)
    assert {f["check"]: f["evidence"] for f in result["findings"]} == {
        "checkpoint_type": None, "scsi_controller": None, "vss_access_control": None}
    # HV02 read its events, HV01 did not: a VM's events may be anywhere, a node's only on itself
    view = both_nodes(legacy, vss_access_control={}, hv02=with_events())
    result = evaluate(view, {"vss_accounts": [ACCOUNT]}, NOW)
    evidence = {f["check"]: f["evidence"] for f in result["findings"]}
    assert evidence["scsi_controller"] == {"seen": False, "count": 0, "first": None, "last": None, "events": []}
    assert evidence["vss_access_control"] is None and evidence["checkpoint_type"] is None
    lines = format_report(result["findings"], summarize(result["findings"]), view)
    assert "          evidence: not seen in the events read" in lines


def test_evidence_only_within_the_policy_s_window():
    legacy = vm("LEGACY", Generation=1, ScsiControllers=[])
    view = both_nodes(legacy, **with_events(event(10103, 2, legacy["Id"]), event(10103, 50, legacy["Id"])))
    [finding], _ = only(view, "scsi_controller", {"events_max_age_hours": 24})
    assert finding["evidence"]["count"] == 1 and finding["evidence"]["last"] == "2026-11-23T10:00:00Z"
    [finding], _ = only(view, "scsi_controller")
    assert finding["evidence"]["count"] == 2


def test_an_event_no_finding_explains_is_reported_with_what_it_usually_means():
    app, fixed = vm("APP01"), vm(HOSTILE)
    gone = "0e984725-c51c-4bf4-9960-e1c80e27aba0"
    view = both_nodes(app, fixed, **with_events(
        event(10102, 5, app["Id"]), event(10102, 29, app["Id"]),  # the shadow copy inside the guest failed
        event(10103, 7, fixed["Id"]),                              # its SCSI controller was added since
        event(10103, 8, gone),                                     # a VM no node reports
        event(8194, 9, log="Application")))                       # no account named in the policy
    found, checked = only(view, "unexplained_event")
    assert [(f["code"], f["object"]["name"], f["evidence"]["count"]) for f in found] == [
        ("unexplained_event.vmms_10103", gone, 1), ("unexplained_event.vmms_10102", "APP01", 2),
        ("unexplained_event.vss_8194", "HV01", 1), ("unexplained_event.vmms_10103", HOSTILE, 1)]
    assert all(f["severity"] == "warning" for f in found)
    assert "the VM it names is not in this view" in found[0]["message"]
    assert "a guest volume has less than about 1 GB free" in found[1]["impact"]
    assert "free at least 1 GB" in found[1]["fix"]["text"]
    assert "the scsi_controller check passes now for it" in found[3]["message"]
    assert "IVssWriterCallback" in found[2]["impact"]
    assert sorted(checked, key=str.casefold) == sorted([gone, "APP01", "HV01", HOSTILE], key=str.casefold)
    # explained events are not reported twice
    legacy = vm("LEGACY", Generation=1, ScsiControllers=[])
    view = both_nodes(legacy, **with_events(event(10103, 5, legacy["Id"])))
    assert only(view, "unexplained_event") == ([], None)


def test_now_defaults_to_the_hosts_clock_when_they_read_their_events():
    old = vm("FS01", Checkpoints=[recovery("Backup", "2026-11-22T13:00:00Z")])  # 23 hours before the hosts' clock
    view = both_nodes(old, **with_events())
    result = evaluate(view, None)
    assert result["now"] == NOW
    assert checks(result["findings"], "recovery_checkpoint") == []
    assert checks(evaluate(view, None, NOW + timedelta(hours=2))["findings"], "recovery_checkpoint")


# --- the whole: the report's shape, checked complete, JUnit -------------------------------------------------

def everything():
    """A view in which every check finds something, with events."""
    n1, n2 = vhds(vm("GC-N1"), vm(HOSTILE, volume=2))
    vms = [n1, n2, vm("STD01", CheckpointType="Standard", AutomaticCheckpointsEnabled=True, Version="7.0",
                      Checkpoints=[recovery("Backup", "2026-11-01T08:00:00Z")]),
           vm("NOSCSI01", Generation=1, ScsiControllers=[], node_state="Saved",
              BackupIntegration={"Enabled": False, "PrimaryStatusDescription": None}),
           vm("CRIT01", node_state="OffCritical", CheckpointType=None)]
    hv01 = node("HV01", vms, acls=[acl(ace(vm_sid(n1["Id"])))], vss_access_control={},
                vss_writers_text=writers(("Microsoft Hyper-V VSS Writer", HYPERV_WRITER_ID, 5, "Waiting", "Retryable error")),
                **with_events(event(10103, 5, vms[3]["Id"]), event(19100, 5, n2["Id"]), event(10102, 5, n1["Id"])))
    for facts in (hv01,):
        facts["cluster"].update(CsvBalancer=1, AutoBalancerMode=2)
        facts["cluster"]["Parameters"]["ConfigStoreRootPath"] = ""
        facts["cluster"]["Nodes"].append({"Name": "HV03", "State": "Paused", "Id": "3"})
    return roles(cluster_view([hv01, node("HV02", [])]), **{"GC-N1": {"PreferredOwners": ["HV02"], "AutoFailbackType": 1}})


def test_every_check_in_the_documented_shape_and_the_report_takes_it():
    view = everything()
    result = evaluate(view, {"vss_accounts": [ACCOUNT]}, NOW)
    findings, checked = result["findings"], result["checked"]
    assert {f["check"] for f in findings} == {
        "vm_facts", "vm_state", "checkpoint_type", "automatic_checkpoints", "scsi_controller", "backup_integration",
        "vm_version", "recovery_checkpoint", "csv_placement", "failback", "cluster_balancer", "vhd_set_acl",
        "guest_cluster", "config_store_root_path", "vss_access_control", "vss_writer", "node_state", "node_facts",
        "unexplained_event"}
    for finding in findings:
        assert list(finding) == ["check", "code", "severity", "object", "target", "node", "message", "impact",
                                 "errors", "fix", "evidence"]
        assert finding["code"].startswith(finding["check"] + ".")
        assert finding["target"] == finding["object"]["name"]
        assert set(finding["fix"]) == {"text", "module", "role", "command"} and finding["fix"]["text"]
        assert finding["impact"] and finding["message"]
        assert finding["object"]["name"] in checked[finding["check"]]  # checked is complete
    assert [SEVERITY for SEVERITY in (f["severity"] for f in findings)] == sorted(
        (f["severity"] for f in findings), key=["error", "warning", "info"].index)
    report = _report.build_report(view, findings, checked, policy={"vss_accounts": [ACCOUNT]}, generated=NOW)
    assert len(report["findings"]) == len(findings)
    assert [f["evidence"] for f in report["findings"]] == [f["evidence"] for f in sorted(
        findings, key=lambda f: (["error", "warning", "info"].index(f["severity"]), f["check"],
                                 f["object"]["name"].casefold(), f["code"], (f["node"] or "").casefold(), f["message"]))]
    # JUnit: one case per check and object evaluated
    root = ET.fromstring(_report.to_junit(report))
    cases = [(case.get("classname"), case.get("name")) for case in root.iter("testcase")]
    assert len(cases) == len(set(cases)) == sum(len(names) for names in report["checked"].values())
    assert {(c, n.casefold()) for c, n in cases} == {(c, str(n).casefold()) for c, names in checked.items() for n in names}


def test_summary_counts_checks_and_passes():
    view = everything()
    result = evaluate(view, {"vss_accounts": [ACCOUNT]}, NOW)
    summary = summarize(result["findings"], result["checked"])
    report = _report.build_report(view, result["findings"], result["checked"], generated=NOW)
    assert (summary["checks"], summary["passed"]) == (report["summary"]["checks"], report["summary"]["passed"])
    assert summary["total"] == report["summary"]["total"]


def test_report_lines_and_summary():
    findings = assess(both_nodes(vm("A", CheckpointType="Standard"), vm("B", CheckpointType="Disabled")), None, NOW)
    summary = summarize(findings)
    assert summary == {"by_check": {"checkpoint_type": 2}, "by_severity": {"error": 2, "warning": 0, "info": 0}, "total": 2}
    lines = format_report(findings, summary)
    assert lines[2] == "[checkpoint_type] 2"
    assert lines[-1] == "2 findings: 2 errors, 0 warnings, 0 info"
    assert any("A on HV01: checkpoint type is Standard" in line for line in lines)
    assert "          fix: hyperv.backup.checkpoint_type with checkpoint_type=Production" in lines


def test_report_lines_show_commands_and_evidence():
    legacy = vm("LEGACY", Generation=1, ScsiControllers=[], node_state="Paused")
    view = both_nodes(legacy, **with_events(event(10103, 5, legacy["Id"])))
    result = evaluate(view, None, NOW)
    lines = format_report(result["findings"], summarize(result["findings"]), view)
    assert f"          command: Get-VM -Id '{legacy['Id']}' | Resume-VM" not in lines  # already in the fix text
    assert "          evidence: seen once, 2026-11-23 07:00 UTC" in lines
    assert "  node HV01: Up, 1 VMs (0 running), 1 backup events since 2026-11-16T12:00:00Z" in lines


def test_report_describes_what_was_seen():
    view = both_nodes(vm("A"), vm("B", node_state="Off"))
    lines = format_report([], summarize([]), view)
    assert lines[2] == "Cluster HVC01: 2 nodes, 2 VMs, ConfigStoreRootPath C:\\ClusterStorage\\Volume1\\ConfigStore"
    assert "  node HV01: Up, 2 VMs (1 running)" in lines
    assert "  node HV02: Up, 0 VMs (0 running)" in lines
    assert "  volume Cluster Disk 2 at C:\\ClusterStorage\\Volume2: owned by HV02, Online" in lines


# --- the policy ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("policy, message", [
    ({"vss_accounts": "LAB\\svc"}, "policy.vss_accounts: 'LAB\\\\\\\\svc' is a string; give a list of accounts"),
    ({"vss_accounts": ["LAB\\svc", 3]}, "policy.vss_accounts: the entry 3 is an integer"),
    ({"vss_accounts": {"LAB\\svc": 1}}, "policy.vss_accounts: .* is a mapping; give a list"),
    ({"checkpoint_types": "Production"}, "policy.checkpoint_types: 'Production' is a string; give a list"),
    ({"checkpoint_types": ["Production", "Snapshot"]}, "policy.checkpoint_types: unknown checkpoint type 'Snapshot'"),
    ({"checkpoint_types": []}, "policy.checkpoint_types: an empty list"),
    ({"scsi_controllers": "1"}, "policy.scsi_controllers: '1' is a string; give a whole number from 0 to 4"),
    ({"scsi_controllers": True}, "policy.scsi_controllers: true is a boolean"),
    ({"scsi_controllers": 5}, "policy.scsi_controllers: 5 is an integer; give a whole number from 0 to 4"),
    ({"automatic_checkpoints": "no"}, "policy.automatic_checkpoints: 'no' is a string; give true or false"),
    ({"vm_on_csv_owner": None}, "policy.vm_on_csv_owner: null is null; give true or false"),
    ({"recovery_checkpoint_max_age_hours": -1}, "policy.recovery_checkpoint_max_age_hours: -1 is an integer"),
    ({"recovery_checkpoint_max_age_hours": "24"}, "'24' is a string; give a number of hours"),
    ({"events_max_age_hours": 0}, "policy.events_max_age_hours: 0 is an integer; give a number of hours above 0"),
    ({"events_max_age_hours": "1d"}, "policy.events_max_age_hours: '1d' is a string"),
    ({"events_max_age_hours": True}, "policy.events_max_age_hours: true is a boolean"),
    ({"vss_acounts": []}, "policy: unknown keys vss_acounts; known: checkpoint_types"),
    (["vss_accounts"], "policy: \\['vss_accounts'\\] is a list; give a mapping"),
])
def test_a_bad_policy_is_refused_naming_the_key_the_value_and_its_type(policy, message):
    with pytest.raises(PolicyError, match=message):
        validate_policy(policy)
    with pytest.raises(PolicyError):
        assess(both_nodes(), policy, NOW)


def test_a_valid_policy_is_normalised():
    policy = validate_policy({"checkpoint_types": ["production", "Production"], "automatic_checkpoints": None,
                              "recovery_checkpoint_max_age_hours": 0.5, "vss_accounts": ("LAB\\svc",),
                              "events_max_age_hours": 36})
    assert policy["checkpoint_types"] == ["Production"]
    assert policy["vss_accounts"] == ["LAB\\svc"]
    assert policy["automatic_checkpoints"] is None
    assert policy["events_max_age_hours"] == 36


@pytest.mark.parametrize("name, quoted", [
    ("SQL01", "'SQL01'"),
    ("O'Brien $(test); x", "'O''Brien $(test); x'"),
    ("\u2018a\u2019", "'\u2018\u2018a\u2019\u2019'"),
    ("\u6570\u636e\u5e93", "'\u6570\u636e\u5e93'"),
])
def test_ps_quote_makes_a_literal(name, quoted):
    assert ps_quote(name) == quoted
