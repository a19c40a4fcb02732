"""view_after: the view a run started from, with what its modules read back, built again."""
import copy

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hyperv.backup.plugins.filter.view_after import FilterModule
from ansible_collections.hyperv.backup.plugins.plugin_utils import _folder_access as fa
from ansible_collections.hyperv.backup.plugins.plugin_utils._cluster_view import cluster_view
from ansible_collections.hyperv.backup.plugins.plugin_utils._readiness import evaluate
from ansible_collections.hyperv.backup.plugins.plugin_utils._view_after import view_after
from tests.unit.factsdata import node, vm
from tests.unit.plugins.plugin_utils.test_folder_access import GC, SID2, acl, parent_aces, two_nodes

STORE = "C:\\ClusterStorage\\Volume1\\Hyper-V\\ConfigStore"


def start():
    first = node("HV01", [vm("SQL01", CheckpointType="Standard", AutomaticCheckpointsEnabled=True),
                          vm("OLD01", ScsiControllers=[], State="Off"),
                          vm("APP01", volume=2, BackupIntegration={"Enabled": False, "PrimaryStatusDescription": "OK"})],
                 vss_access_control={"LAB\\svc-veeam": 0})
    second = node("HV02", [vm("WEB01")], vss_access_control={})
    for facts in (first, second):
        facts["cluster"]["Parameters"]["ConfigStoreRootPath"] = ""
    return cluster_view([first, second])


def ids(view):
    return {v["Name"]: v["Id"] for v in view["vms"]}


def by_name(view):
    return {v["Name"]: v for v in view["vms"]}


def test_each_modules_read_back_lands_in_the_view_and_derived_fields_follow():
    before = start()
    vm_id = ids(before)
    results = [
        {"changed": True, "vms": [{"id": vm_id["SQL01"], "name": "SQL01", "status": "changed",
                                   "before": {"CheckpointType": "Standard", "AutomaticCheckpointsEnabled": True},
                                   "after": {"CheckpointType": "Production", "AutomaticCheckpointsEnabled": False}}]},
        {"changed": True, "vms": [{"id": vm_id["OLD01"], "name": "OLD01", "status": "changed",
                                   "before": {"ScsiControllers": 0}, "after": {"ScsiControllers": 1}}]},
        {"changed": True, "vms": [{"id": vm_id["APP01"], "name": "APP01", "status": "changed",
                                   "before": {"Enabled": False}, "after": {"Enabled": True}}]},
        {"changed": True, "node": "HV01", "key": "HKLM\\...", "values": {"LAB\\svc-veeam": 1}},
        {"skipped": True, "changed": False},
        {"changed": True, "status": "changed", "before": {"ConfigStoreRootPath": ""},
         "after": {"ConfigStoreRootPath": STORE}},
        {"results": [{"changed": True, "moves": [
            {"kind": "vm", "name": "APP01", "id": vm_id["APP01"], "from": "HV01", "to": "HV02", "status": "moved"},
            {"kind": "csv", "name": "Cluster Disk 1", "id": "Cluster Disk 1", "from": "HV01", "to": "HV02",
             "status": "failed"}]}]},
    ]
    after = view_after(before, results)
    vms = by_name(after)
    assert (vms["SQL01"]["CheckpointType"], vms["SQL01"]["AutomaticCheckpointsEnabled"]) == ("Production", False)
    assert vms["OLD01"]["ScsiControllers"] == [{"ControllerNumber": 0, "DiskCount": 0}]
    assert vms["APP01"]["BackupIntegration"] == {"Enabled": True, "PrimaryStatusDescription": "OK"}
    assert (vms["APP01"]["Node"], vms["APP01"]["OnSharedVolumeOwner"]) == ("HV02", True)
    assert after["nodes"]["HV01"]["vss_access_control"] == {"LAB\\svc-veeam": 1}
    assert after["cluster"]["Parameters"]["ConfigStoreRootPath"] == STORE
    assert [v["OwnerNode"] for v in after["cluster"]["SharedVolumes"]] == ["HV01", "HV02"]  # the failed move
    assert after["cluster"]["ReportingNodes"] == ["HV01", "HV02"] and after["cluster"]["MissingNodes"] == []
    # the view the run started from is left as it was
    assert by_name(before)["SQL01"]["CheckpointType"] == "Standard" and by_name(before)["APP01"]["Node"] == "HV01"
    policy = {"vss_accounts": ["LAB\\svc-veeam"]}
    fixed = {(f["check"], f["object"]["name"]) for f in evaluate(before, policy)["findings"]} - {
        (f["check"], f["object"]["name"]) for f in evaluate(after, policy)["findings"]}
    assert fixed == {("checkpoint_type", "SQL01"), ("automatic_checkpoints", "SQL01"), ("scsi_controller", "OLD01"),
                     ("backup_integration", "APP01"), ("vss_access_control", "HV01"), ("csv_placement", "APP01")}


def test_a_folders_acl_read_back_replaces_what_any_node_had_read():
    first, second = two_nodes(acls=[acl(GC)])
    second["acls"] = [acl(GC)]
    before = cluster_view([first, second])
    granted, _ = fa.apply_intent(parent_aces(), [dict(fa.GRANT, sid=SID2)])
    after = view_after(before, [{"changed": True, "scope": "cluster",
                                 "folders": [{"path": GC.lower(), "status": "changed", "after": granted}]}])
    assert [a["Access"] for n in after["nodes"].values() for a in n["acls"]] == [granted, granted]
    assert before["nodes"]["HV01"]["acls"][0]["Access"] == parent_aces()


def test_a_shut_down_that_did_not_finish_leaves_the_vm_in_the_state_read():
    before = start()
    entry = {"id": ids(before)["SQL01"], "status": "changed", "after": {"ScsiControllers": 1},
             "shutdown": "unfinished", "state": "Stopping"}
    assert by_name(view_after(before, [{"vms": [entry]}]))["SQL01"]["State"] == "Stopping"


def test_no_results_rebuild_the_same_view():
    before = start()
    assert view_after(copy.deepcopy(before), []) == before


@pytest.mark.parametrize("view, results, message", [
    ({"vms": []}, [], "expected the output of hyperv.backup.cluster_view"),
    ("view", "nope", "expected a list of module results, got a string"),
])
def test_bad_input_is_named(view, results, message):
    view = start() if view == "view" else view
    with pytest.raises(AnsibleFilterError, match=message):
        FilterModule().filters()["view_after"](view, results)
