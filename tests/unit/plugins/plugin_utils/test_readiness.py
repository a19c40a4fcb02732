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


# --- the policy ---------------------------------------------------------------------------------------------

import pytest  # noqa: E402

from ansible_collections.hyperv.backup.plugins.plugin_utils._readiness import (  # noqa: E402
    DEFAULT_POLICY,
    PolicyError,
    ps_quote,
    validate_policy,
)


def test_the_default_policy_accepts_what_checkpoint_type_production_leaves_alone():
    assert validate_policy(None) == DEFAULT_POLICY
    assert DEFAULT_POLICY["checkpoint_types"] == ["Production", "ProductionOnly"]
    view = both_nodes(vm("ONLY01", CheckpointType="ProductionOnly"), vm("PROD01"), vm("STD01", CheckpointType="Standard"))
    [finding] = checks(assess(view, None, NOW), "checkpoint_type")
    assert finding["target"] == "STD01"
    assert finding["fix"] == "hyperv.backup.checkpoint_type with checkpoint_type=Production"


def test_a_policy_of_other_types_gives_a_fix_that_reproduces_it():
    view = both_nodes(vm("PROD01"))
    [finding] = checks(assess(view, {"checkpoint_types": ["productiononly"]}, NOW), "checkpoint_type")
    assert finding["fix"] == "hyperv.backup.checkpoint_type with checkpoint_type=ProductionOnly"
    assert "not ProductionOnly" in finding["message"]
    view = both_nodes(vm("OFF01", CheckpointType="Disabled"))
    [finding] = checks(assess(view, {"checkpoint_types": ["Production"]}, NOW), "checkpoint_type")
    assert finding["fix"].endswith("checkpoint_type=Production compliant_types=Production")


def test_a_vm_too_old_for_production_checkpoints_is_told_to_upgrade_first():
    view = both_nodes(vm("OLD'VM", CheckpointType="Standard", Version="5.0"))
    [finding] = checks(assess(view, None, NOW), "checkpoint_type")
    assert finding["fix"].startswith("Update-VMVersion -VMName 'OLD''VM' with the VM off (configuration version 5.0")
    assert finding["fix"].endswith("then hyperv.backup.checkpoint_type with checkpoint_type=Production")


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
                              "recovery_checkpoint_max_age_hours": 0.5, "vss_accounts": ("LAB\\svc",)})
    assert policy["checkpoint_types"] == ["Production"]
    assert policy["vss_accounts"] == ["LAB\\svc"]
    assert policy["automatic_checkpoints"] is None


def test_one_account_is_one_finding_not_one_per_character():
    view = both_nodes(vss_access_control={})
    found = checks(assess(view, {"vss_accounts": ["LAB\\svc"]}, NOW), "vss_access_control")
    assert [(f["target"], f["message"].split(" is not")[0]) for f in found] == [("HV01", "LAB\\svc"),
                                                                                ("HV02", "LAB\\svc")]


@pytest.mark.parametrize("name, quoted", [
    ("SQL01", "'SQL01'"),
    ("O'Brien $(test); x", "'O''Brien $(test); x'"),
    ("\u2018a\u2019", "'\u2018\u2018a\u2019\u2019'"),
    ("\u6570\u636e\u5e93", "'\u6570\u636e\u5e93'"),
])
def test_ps_quote_makes_a_literal(name, quoted):
    assert ps_quote(name) == quoted


def test_the_recovery_checkpoint_fix_names_the_vm():
    old = {"Id": "x", "Name": "Backup", "SnapshotType": "Recovery", "CreationTime": "2026-11-01T08:00:00Z",
           "ParentCheckpointId": None}
    view = both_nodes(vm("O'Brien $(test); x", Checkpoints=[old]))
    [finding] = checks(assess(view, None, NOW), "recovery_checkpoint")
    assert finding["fix"] == "Get-VMSnapshot -VMName 'O''Brien $(test); x' -SnapshotType Recovery | Remove-VMSnapshot"


def test_a_vm_the_host_could_not_fully_read_gets_one_warning_and_no_false_findings():
    # host_facts reports null for what it could not read (a VM in a critical state, a property that threw).
    view = both_nodes(vm("CRIT01", State="OffCritical", CheckpointType=None, ScsiControllers=None, Checkpoints=None))
    findings = assess(view, None, NOW)
    assert [(f["check"], f["target"]) for f in findings] == [("vm_facts", "CRIT01")]
    assert "CheckpointType, ScsiControllers, Checkpoints" in findings[0]["message"]
    assert "OffCritical" in findings[0]["message"]
