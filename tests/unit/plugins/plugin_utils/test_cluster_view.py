import pytest

from ansible_collections.hyperv.backup.plugins.plugin_utils._cluster_view import ClusterViewError, cluster_view, volume_finder
from ansible_collections.hyperv.backup.plugins.plugin_utils._windows_path import is_under
from tests.unit.factsdata import CSVS, node, vm


def test_every_vm_once_with_its_node_and_volume():
    view = cluster_view([node("HV02", [vm("WEB01", volume=1)]), node("HV01", [vm("SQL01", volume=1), vm("FS01", volume=2)])])
    by_name = {v["Name"]: v for v in view["vms"]}
    assert [v["Name"] for v in view["vms"]] == ["FS01", "SQL01", "WEB01"]
    assert by_name["SQL01"]["Node"] == "HV01" and by_name["SQL01"]["OnSharedVolumeOwner"] is True
    assert by_name["WEB01"]["Node"] == "HV02"
    assert by_name["WEB01"]["SharedVolume"] == "Cluster Disk 1"
    assert by_name["WEB01"]["SharedVolumeOwner"] == "HV01"
    assert by_name["WEB01"]["OnSharedVolumeOwner"] is False
    assert by_name["FS01"]["OnSharedVolumeOwner"] is False
    assert view["cluster"]["ReportingNodes"] == ["HV01", "HV02"]
    assert view["cluster"]["MissingNodes"] == []
    assert set(view["nodes"]) == {"HV01", "HV02"}
    assert "vms" not in view["nodes"]["HV01"]


def test_volume10_is_not_inside_volume1():
    csvs = CSVS + [{"Name": "Cluster Disk 10", "OwnerNode": "HV02", "State": "Online", "Path": "C:\\ClusterStorage\\Volume10"}]
    view = cluster_view([node("HV02", [vm("APP10", volume=10)], csvs=csvs)])
    assert view["vms"][0]["SharedVolume"] == "Cluster Disk 10"
    assert view["vms"][0]["OnSharedVolumeOwner"] is True


def test_volume_finder_matches_is_under_with_the_longest_path():
    volumes = [{"Name": "V1", "Path": "C:\\ClusterStorage\\Volume1"}, {"Name": "V10", "Path": "c:/clusterstorage/volume10/"},
               {"Name": "Nested", "Path": "C:\\ClusterStorage\\Volume1\\Inner"}, {"Name": "Root", "Path": "E:\\"},
               {"Name": "Share", "Path": "\\\\sofs\\vms"}]
    find = volume_finder(volumes)
    paths = ["C:\\ClusterStorage\\Volume1", "C:\\ClusterStorage\\Volume1\\A\\b.vhdx", "C:\\ClusterStorage\\Volume10\\x",
             "C:\\ClusterStorage\\Volume100\\x", "C:\\ClusterStorage\\Volume1\\Inner\\x.vhdx", "E:\\VMs\\x.vhdx",
             "\\\\SOFS\\VMs\\x.vhdx", "\\\\sofs\\vmsother\\x", "D:\\x", "", None]
    for path in paths:
        slow = None
        for volume in volumes:
            if path and is_under(path, volume["Path"]) and (slow is None or len(volume["Path"]) > len(slow["Path"])):
                slow = volume
        assert find(path) is slow, path
    assert [find(p)["Name"] if find(p) else None for p in paths] == [
        "V1", "V1", "V10", None, "Nested", "Root", "Share", None, None, None, None]


def test_vm_on_local_storage_has_no_volume():
    local = vm("LOCAL01", Path="D:\\VMs\\LOCAL01", HardDisks=[])
    view = cluster_view([node("HV01", [local])])
    assert view["vms"][0]["SharedVolume"] is None
    assert view["vms"][0]["OnSharedVolumeOwner"] is None


def test_disks_on_other_volumes_are_listed():
    guest = vm("GC-N1", volume=1)
    guest["HardDisks"].append({"Path": "C:\\ClusterStorage\\Volume2\\GC\\data.vhds", "ControllerType": "SCSI",
                               "ControllerNumber": 0, "ControllerLocation": 1,
                               "SupportPersistentReservations": True, "IsVhdSet": True})
    view = cluster_view([node("HV01", [guest])])
    assert view["vms"][0]["SharedVolumes"] == ["Cluster Disk 1", "Cluster Disk 2"]
    assert view["vhd_set_folders"] == [{"Path": "C:\\ClusterStorage\\Volume2\\GC", "VMs": ["GC-N1"], "VMIds": [guest["Id"]]}]


def test_missing_members_are_reported():
    view = cluster_view([node("HV01", [])])
    assert view["cluster"]["MissingNodes"] == ["HV02"]


def test_duplicate_vm_keeps_the_role_owner():
    stale = vm("SQL01", node_state="Off")
    live = vm("SQL01")
    first, second = node("HV01", [stale]), node("HV02", [live])
    for facts in (first, second):
        facts["cluster"]["VMRoles"] = [{"Name": "SQL01", "OwnerNode": "HV02", "State": "Online", "AntiAffinityClassNames": []}]
    view = cluster_view([first, second])
    assert len(view["vms"]) == 1 and view["vms"][0]["Node"] == "HV02"
    assert view["conflicts"] == [{"Id": live["Id"], "Name": "SQL01", "Nodes": ["HV01", "HV02"], "KeptNode": "HV02"}]


def test_same_node_facts_are_merged():
    acl = {"Path": "C:\\ClusterStorage\\Volume2\\GC", "Owner": "BUILTIN\\Administrators", "OwnerSid": "S-1-5-32-544", "Access": []}
    only_acls = {"schema": 1, "gather_subset": [], "node": node("HV01", [])["node"], "acls": [acl]}
    view = cluster_view([node("HV01", [vm("SQL01")]), {"ansible_facts": {"hyperv_backup": only_acls}}])
    assert [v["Name"] for v in view["vms"]] == ["SQL01"]
    assert view["nodes"]["HV01"]["acls"] == [acl]


def test_accepts_module_results_and_dicts():
    result = {"changed": False, "ansible_facts": {"hyperv_backup": node("HV01", [vm("A")])}}
    assert [v["Name"] for v in cluster_view({"HV01": result})["vms"]] == ["A"]


def test_standalone_hosts():
    view = cluster_view([node("HOST1", [vm("A", Path="D:\\VMs\\A")], cluster=False)])
    assert view["cluster"] is None
    assert view["vms"][0]["Cluster"] is None


def test_different_volume_owners_warn():
    a, b = node("HV01", []), node("HV02", [])
    b["cluster"]["SharedVolumes"][0]["OwnerNode"] = "HV02"
    assert "different shared volume owners" in cluster_view([a, b])["warnings"][0]


@pytest.mark.parametrize(
    "bad, message",
    [
        ("text", "expected a list"),
        (["x"], r"item 0 is a string \('x'\), not the hyperv_backup facts"),
        ([{"vms": []}], "item 0 has no node.Name"),
    ],
)
def test_bad_input_is_named(bad, message):
    with pytest.raises(ClusterViewError, match=message):
        cluster_view(bad)


def test_two_clusters_is_an_error():
    other = node("HV09", [])
    other["cluster"]["Name"] = "HVC02"
    with pytest.raises(ClusterViewError, match="more than one cluster"):
        cluster_view([node("HV01", []), other])


def test_two_vms_of_one_name_stay_two_and_a_reported_twice_vm_follows_its_role_by_id():
    first = vm("TWIN", Id="11111111-1111-4111-8111-111111111111", node_state="Off")
    second = vm("twin", Id="22222222-2222-4222-8222-222222222222")
    stale_second = dict(second, State="Off")
    hv01, hv02 = node("HV01", [first, stale_second]), node("HV02", [second])
    # By name, "TWIN" would be HV01's role (the last one listed) and the stale copy would be kept.
    roles = [{"Name": "twin", "VMId": second["Id"], "OwnerNode": "HV02"},
             {"Name": "TWIN", "VMId": first["Id"], "OwnerNode": "HV01"}]
    for facts in (hv01, hv02):
        facts["cluster"]["VMRoles"] = roles
    view = cluster_view([hv01, hv02])
    assert [(v["Name"], v["Id"][:8], v["Node"]) for v in view["vms"]] == [("TWIN", "11111111", "HV01"),
                                                                           ("twin", "22222222", "HV02")]
    assert [c["KeptNode"] for c in view["conflicts"]] == ["HV02"]
