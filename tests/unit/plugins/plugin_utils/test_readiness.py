from datetime import datetime, timezone

from ansible_collections.hyperv.backup.plugins.plugin_utils._cluster_view import cluster_view
from ansible_collections.hyperv.backup.plugins.plugin_utils._readiness import assess, format_report, summarize
from ansible_collections.hyperv.backup.plugins.plugin_utils._sid import vm_sid
from tests.unit.factsdata import node, vm

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def both_nodes(*vms, **hv01):
    """Facts of both members of HVC01, the VMs on HV01."""
    return cluster_view([node("HV01", list(vms), **hv01), node("HV02", [])])


def checks(findings, check):
    return [f for f in findings if f["check"] == check]


def test_a_compliant_cluster_has_no_findings():
    view = cluster_view([node("HV01", [vm("SQL01")]), node("HV02", [vm("WEB01", volume=2)])])
    assert assess(view, {"vss_accounts": ["LAB\\svc-veeam"]}, NOW) == []


def test_each_vm_drift_is_found_once():
    vms = [
        vm("STD01", CheckpointType="Standard"),
        vm("AUTO01", AutomaticCheckpointsEnabled=True),
        vm("NOSCSI01", Generation=1, ScsiControllers=[]),
        vm("NOVSS01", BackupIntegration={"Enabled": False, "PrimaryStatusDescription": "OK"}),
        vm("OLD01", Checkpoints=[{"Id": "x", "Name": "OLD01 - Backup", "SnapshotType": "Recovery",
                                  "CreationTime": "2026-11-01T08:00:00Z", "ParentCheckpointId": None}]),
        vm("NEW01", Checkpoints=[{"Id": "y", "Name": "NEW01 - Backup", "SnapshotType": "Recovery",
                                  "CreationTime": "2026-11-23T11:00:00Z", "ParentCheckpointId": None}]),
        vm("AWAY01", volume=2),
    ]
    findings = assess(both_nodes(*vms), None, NOW)
    targets = {f["check"]: f["target"] for f in findings}
    assert targets == {
        "checkpoint_type": "STD01",
        "automatic_checkpoints": "AUTO01",
        "scsi_controller": "NOSCSI01",
        "backup_integration": "NOVSS01",
        "recovery_checkpoint": "OLD01",
        "csv_placement": "AWAY01",
    }
    assert len(findings) == 6
    assert "owned by HV02" in checks(findings, "csv_placement")[0]["message"]
    assert findings[0]["severity"] == "error"


def test_policy_changes_the_verdict():
    view = both_nodes(vm("STD01", CheckpointType="Standard", volume=2))
    policy = {"checkpoint_types": ["Standard", "Production"], "vm_on_csv_owner": False}
    assert assess(view, policy, NOW) == []


def test_vhd_set_folder_needs_full_control_per_vm():
    shared = {"Path": "C:\\ClusterStorage\\Volume1\\GC\\data.vhds", "ControllerType": "SCSI", "ControllerNumber": 0,
              "ControllerLocation": 1, "SupportPersistentReservations": True, "IsVhdSet": True}
    n1, n2 = vm("GC-N1"), vm("GC-N2")
    for guest in (n1, n2):
        guest["HardDisks"] = guest["HardDisks"] + [dict(shared)]
    ace = {"IdentityReference": "NT VIRTUAL MACHINE\\" + n1["Id"].upper(), "Sid": vm_sid(n1["Id"]),
           "FileSystemRights": "FullControl", "AccessControlType": "Allow", "InheritanceFlags": "ObjectInherit",
           "PropagationFlags": "None", "IsInherited": False}
    acl = {"Path": "C:\\ClusterStorage\\Volume1\\GC", "Owner": "BUILTIN\\Administrators", "OwnerSid": "S-1-5-32-544", "Access": [ace]}
    found = checks(assess(both_nodes(n1, n2, acls=[acl]), None, NOW), "vhd_set_acl")
    assert len(found) == 1
    assert "GC-N2" in found[0]["message"]
    assert found[0]["fix"] == f'icacls "C:\\ClusterStorage\\Volume1\\GC" /grant *{vm_sid(n2["Id"])}:(OI)F'

    ace_without_oi = dict(ace, InheritanceFlags="None")
    view = both_nodes(n1, n2, acls=[dict(acl, Access=[ace_without_oi])])
    assert len(checks(assess(view, None, NOW), "vhd_set_acl")) == 2

    [info] = checks(assess(both_nodes(n1, n2), None, NOW), "vhd_set_acl")
    assert info["severity"] == "info"


def test_cluster_wide_findings():
    a, b = node("HV01", []), node("HV02", [], vss_access_control={"LAB\\svc-veeam": 0})
    for facts in (a, b):
        facts["cluster"]["Parameters"]["ConfigStoreRootPath"] = ""
        facts["cluster"]["Nodes"][1]["State"] = "Paused"
    b["vss_writers_text"] = ("Writer name: 'Microsoft Hyper-V VSS Writer'\n   Writer Id: {66841cd4-6ded-4f4b-8f17-fd23f8ddc3de}\n"
                             "   Writer Instance Id: {9a2b4c1e-32d4-4b53-8d3c-8b5a1f7d4a10}\n   State: [5] Waiting for completion\n"
                             "   Last error: Retryable error\n")
    findings = assess(cluster_view([a, b]), {"vss_accounts": ["lab\\SVC-VEEAM"]}, NOW)
    assert [(f["check"], f["target"]) for f in findings] == [
        ("vss_access_control", "HV02"),
        ("vss_writer", "HV02"),
        ("config_store_root_path", "HVC01"),
        ("node_state", "HV02"),
    ]


def test_report_lines_and_summary():
    findings = assess(both_nodes(vm("A", CheckpointType="Standard"), vm("B", CheckpointType="Disabled")), None, NOW)
    summary = summarize(findings)
    assert summary == {"by_check": {"checkpoint_type": 2}, "by_severity": {"error": 2, "warning": 0, "info": 0}, "total": 2}
    lines = format_report(findings, summary)
    assert lines[2] == "[checkpoint_type] 2"
    assert lines[-1] == "2 findings: 2 errors, 0 warnings, 0 info"
    assert any("A on HV01: checkpoint type is Standard" in line for line in lines)


def test_report_describes_what_was_seen():
    view = both_nodes(vm("A"), vm("B", node_state="Off"))
    lines = format_report([], summarize([]), view)
    assert lines[2] == "Cluster HVC01: 2 nodes, 2 VMs, ConfigStoreRootPath C:\\ClusterStorage\\Volume1\\ConfigStore"
    assert "  node HV01: Up, 2 VMs (1 running)" in lines
    assert "  node HV02: Up, 0 VMs (0 running)" in lines
    assert "  volume Cluster Disk 2 at C:\\ClusterStorage\\Volume2: owned by HV02, Online" in lines
