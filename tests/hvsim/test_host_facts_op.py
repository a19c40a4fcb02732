"""The host_facts operation of hvsim (docs/windows-contract.md, host_facts), run directly on model data."""
import copy
import os
from datetime import datetime, timedelta, timezone

import pytest
import yaml

from hvsim import model as hvsim_model
from hvsim import ops, world
from hvsim.ops import Context, ModuleFail
from hvsim.ops.host_facts import SUBSETS, host_facts

MODELS = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "hvsim", "models")

SMALL = r"""
credentials: {username: u, password: p}
cluster:
  name: HVCT
  parameters: {ConfigStoreRootPath: ''}
  shared_volumes:
    - {name: Cluster Disk 1, path: 'C:\ClusterStorage\Volume1', owner_node: hv01, state: Online}
nodes:
  - name: hv01
    fqdn: hv01.test.example
    state: Up
    os_build: 20348
    vss_access_control: {'LAB\svc-backup': 1}
    vss_writers:
      - {name: Microsoft Hyper-V VSS Writer, id: '{66841cd4-6ded-4f4b-8f17-fd23f8ddc3de}',
         instance_id: '{1f8e4c3a-2b0d-4c55-9a61-2f0a8e1d7b01}', state: 5, last_error: Retryable error}
  - name: HV02
    fqdn: hv02.test.example
    state: Paused
    os_build: 14393
    vss_access_control: {}
    vss_writers: []
vms:
  - id: D9E0EB0A-5B37-508E-9173-67E9ADE83ACF
    name: GC-N1
    node: HV01
    state: Running
    generation: 2
    version: '10.0'
    processor_count: 4
    memory_startup: 4294967296
    dynamic_memory: false
    checkpoint_type: Standard
    automatic_checkpoints: true
    path: 'C:\ClusterStorage\Volume1\GC-N1'
    clustered: true
    anti_affinity_class_names: [GC]
    scsi_controllers: 3
    hard_disks:
      - {path: 'C:\ClusterStorage\Volume1\GC-N1\os.vhdx', controller_type: SCSI, controller_number: 0, controller_location: 0, shared: false}
      - {path: 'C:\ClusterStorage\Volume1\GC-N1\log.vhdx', controller_type: SCSI, controller_number: 0, controller_location: 1, shared: false}
      - {path: 'C:\ClusterStorage\Volume1\Shared\data.VHDS', controller_type: SCSI, controller_number: 1, controller_location: 0, shared: true}
    backup_integration: {enabled: true, status: OK}
    checkpoints:
      - {id: 6A1F0000-0000-4000-8000-000000000001, name: GC-N1 - Backup, type: Recovery, created: 2026-10-02T21:04:11Z, parent: null}
      - {id: 6a1f0000-0000-4000-8000-000000000002, name: later, type: Standard, created: '2026-10-03T08:00:00Z',
         parent: 6A1F0000-0000-4000-8000-000000000001}
  - id: 3f2504e0-4f89-11d3-9a0c-0305e82c3301
    name: OLD01
    node: hv01
    state: Off
    generation: 1
    checkpoint_type: Production
    automatic_checkpoints: false
    path: 'C:\ClusterStorage\Volume1\OLD01'
    clustered: false
    anti_affinity_class_names: [ignored-when-not-clustered]
    scsi_controllers: 0
    hard_disks:
      - {path: 'C:\ClusterStorage\Volume1\OLD01\os.vhdx', controller_type: IDE, controller_number: 0, controller_location: 0, shared: false}
    backup_integration: {enabled: false, status: null}
    checkpoints: []
  - id: 0e984725-c51c-4bf4-9960-e1c80e27aba0
    name: GC-N2
    node: HV02
    state: Saved
    generation: 2
    checkpoint_type: Production
    automatic_checkpoints: true
    path: 'C:\ClusterStorage\Volume1\GC-N2'
    clustered: true
    anti_affinity_class_names: [GC]
    scsi_controllers: 2
    hard_disks:
      - {path: 'C:\ClusterStorage\Volume1\GC-N2\os.vhdx', controller_type: SCSI, controller_number: 0, controller_location: 0, shared: false}
      - {path: 'C:\ClusterStorage\Volume1\Shared\data.vhds', controller_type: SCSI, controller_number: 1, controller_location: 0, shared: true}
    backup_integration: {enabled: true, status: null}
    checkpoints: []
folders:
  'C:\ClusterStorage\Volume1\Shared':
    nodes: all
    owner: S-1-5-32-544
    access:
      - {sid: S-1-5-83-1-3655396106-1351506743-3915871121-3476744365, rights: FullControl, type: Allow,
         inheritance: ObjectInherit, propagation: None, inherited: false}
      - {sid: S-1-5-18, rights: FullControl, type: Allow, inheritance: 'ContainerInherit, ObjectInherit',
         propagation: None, inherited: true}
      - {sid: S-1-3-0, rights: '268435456', type: Allow, inheritance: 'ContainerInherit, ObjectInherit',
         propagation: InheritOnly, inherited: true}
  'D:\Local':
    nodes: [HV02]
    owner: S-1-5-21-1-2-3-1105
    access:
      - {sid: S-1-5-21-1-2-3-1105, rights: 'Modify, Synchronize', type: Deny, inherited: false}
accounts:
  'LAB\svc-backup': S-1-5-21-1-2-3-1105
faults: {latency_ms: 0, fail_nth: 0, drop_nth: 0}
"""

VM_KEYS = {"Id", "Name", "State", "Generation", "Version", "ProcessorCount", "MemoryStartup", "MemoryAssigned",
           "DynamicMemoryEnabled",
           "CheckpointType", "AutomaticCheckpointsEnabled", "Path", "IsClustered", "AntiAffinityClassNames",
           "ScsiControllers", "HardDisks", "BackupIntegration", "Checkpoints"}
DISK_KEYS = {"Path", "ControllerType", "ControllerNumber", "ControllerLocation", "SupportPersistentReservations",
             "IsVhdSet", "FileSize"}
ACE_KEYS = {"IdentityReference", "Sid", "FileSystemRights", "AccessControlType", "InheritanceFlags",
            "PropagationFlags", "IsInherited"}


@pytest.fixture
def data():
    return yaml.safe_load(SMALL)


def facts_of(data, node, **params):
    params.setdefault("gather_subset", list(SUBSETS))
    params.setdefault("acl_paths", [])
    ctx = Context(node=node, data=data)
    result = host_facts(ctx, params)
    assert result["changed"] is False
    assert ctx.changed_model is False
    return result["ansible_facts"]["hyperv_backup"], ctx


def by_name(vms):
    return {vm["Name"]: vm for vm in vms}


def test_defaults_through_the_argument_spec(data):
    ops.load_all()
    before = copy.deepcopy(data)
    result = ops.run("host_facts", "HV01", data, {})
    assert result.get("failed") is not True, result
    facts = result["ansible_facts"]["hyperv_backup"]
    assert facts["gather_subset"] == SUBSETS
    assert set(facts) == {"schema", "gather_subset", "node", "cluster", "vms", "vss_access_control",
                          "vss_writers_text", "acls", "events", "event_logs"}
    assert facts["event_logs"]["logs"] == []  # what to read is the controller's to say (event_queries)
    # vhd_set_acls: the folder of GC-N1's VHD Set (data.VHDS), as the disk's path spells it
    assert [acl["Path"] for acl in facts["acls"]] == ["C:\\ClusterStorage\\Volume1\\Shared"]
    assert data == before  # reading changes nothing


def test_unknown_subset_is_refused_by_the_argument_spec(data):
    ops.load_all()
    result = ops.run("host_facts", "HV01", data, {"gather_subset": ["vms", "vmz"]})
    assert result["failed"] is True
    assert "vmz" in result["msg"]


def test_node_facts(data):
    facts, _ = facts_of(data, "HV01")
    assert facts["node"] == {"Name": "HV01", "DnsHostName": "hv01.test.example", "OsVersion": "10.0.20348",
                             "OsBuild": 20348, "AutomaticCheckpointsSupported": True,
                             "MemoryCapacity": world.DEFAULT_MEMORY_CAPACITY}
    old, _ = facts_of(data, "hv02")
    assert old["node"]["Name"] == "HV02"
    assert old["node"]["AutomaticCheckpointsSupported"] is False


def test_vms_are_those_registered_on_the_node(data):
    for node in ("HV01", "HV02"):
        facts, _ = facts_of(data, node)
        expected = {vm["name"] for vm in data["vms"] if vm["node"].upper() == node}
        assert {vm["Name"] for vm in facts["vms"]} == expected
        for vm in facts["vms"]:
            assert set(vm) == VM_KEYS
            assert vm["Id"] == vm["Id"].lower()
            for disk in vm["HardDisks"]:
                assert set(disk) == DISK_KEYS


def test_vm_values(data):
    facts, _ = facts_of(data, "HV01")
    vms = by_name(facts["vms"])
    gc = vms["GC-N1"]
    assert gc["Id"] == "d9e0eb0a-5b37-508e-9173-67e9ade83acf"
    assert (gc["State"], gc["Generation"], gc["CheckpointType"], gc["AutomaticCheckpointsEnabled"]) == \
        ("Running", 2, "Standard", True)
    assert gc["ScsiControllers"] == [{"ControllerNumber": 0, "DiskCount": 2}, {"ControllerNumber": 1, "DiskCount": 1},
                                     {"ControllerNumber": 2, "DiskCount": 0}]
    shared = [d for d in gc["HardDisks"] if d["IsVhdSet"]]
    assert [d["Path"] for d in shared] == ["C:\\ClusterStorage\\Volume1\\Shared\\data.VHDS"]
    assert all(d["SupportPersistentReservations"] for d in shared)
    assert not any(d["SupportPersistentReservations"] or d["IsVhdSet"] for d in gc["HardDisks"] if d not in shared)
    assert gc["AntiAffinityClassNames"] == ["GC"]
    assert gc["IsClustered"] is True
    old = vms["OLD01"]
    assert old["State"] == "Off"  # unquoted Off in YAML
    assert old["ScsiControllers"] == []
    assert old["HardDisks"][0]["ControllerType"] == "IDE"
    assert old["IsClustered"] is False and old["AntiAffinityClassNames"] == []
    assert old["BackupIntegration"] == {"Enabled": False, "PrimaryStatusDescription": None}
    assert gc["BackupIntegration"] == {"Enabled": True, "PrimaryStatusDescription": "OK"}


def test_automatic_checkpoints_are_null_before_build_16299(data):
    facts, _ = facts_of(data, "HV02")
    [vm] = facts["vms"]
    assert data["vms"][2]["automatic_checkpoints"] is True
    assert vm["AutomaticCheckpointsEnabled"] is None


def test_checkpoints_only_with_their_subset(data):
    facts, _ = facts_of(data, "HV01")
    cps = by_name(facts["vms"])["GC-N1"]["Checkpoints"]
    assert cps == [
        {"Id": "6a1f0000-0000-4000-8000-000000000001", "Name": "GC-N1 - Backup", "SnapshotType": "Recovery",
         "CreationTime": "2026-10-02T21:04:11Z", "ParentCheckpointId": None},  # YAML parsed it as a datetime
        {"Id": "6a1f0000-0000-4000-8000-000000000002", "Name": "later", "SnapshotType": "Standard",
         "CreationTime": "2026-10-03T08:00:00Z", "ParentCheckpointId": "6a1f0000-0000-4000-8000-000000000001"},
    ]
    without, _ = facts_of(data, "HV01", gather_subset=["vms"])
    assert without["gather_subset"] == ["vms"]
    assert all(vm["Checkpoints"] == [] for vm in without["vms"])
    assert set(without) == {"schema", "gather_subset", "node", "vms"}


def test_cluster_is_cluster_wide(data):
    one, _ = facts_of(data, "HV01", gather_subset=["cluster"])
    two, _ = facts_of(data, "HV02", gather_subset=["cluster"])
    assert one["cluster"] == two["cluster"]
    cluster = one["cluster"]
    assert cluster["Name"] == "HVCT"
    assert cluster["Nodes"] == [{"Name": "HV01", "State": "Up", "Id": "1", "DrainStatus": "NotInitiated"},
                                {"Name": "HV02", "State": "Paused", "Id": "2", "DrainStatus": "NotInitiated"}]
    assert cluster["Parameters"] == {"ConfigStoreRootPath": ""}
    assert cluster["SharedVolumes"] == [{"Name": "Cluster Disk 1", "OwnerNode": "HV01", "State": "Online",
                                         "Path": "C:\\ClusterStorage\\Volume1"}]
    clustered = [vm for vm in data["vms"] if vm["clustered"]]
    assert [r["Name"] for r in cluster["VMRoles"]] == [vm["name"] for vm in clustered]
    roles = {r["Name"]: r for r in cluster["VMRoles"]}
    gc_n1 = next(vm for vm in clustered if vm["name"] == "GC-N1")
    assert roles["GC-N1"] == {"Name": "GC-N1", "VMId": gc_n1["id"].lower(), "OwnerNode": "HV01", "State": "Online",
                              "AntiAffinityClassNames": ["GC"], "PossibleOwners": ["HV01", "HV02"],
                              "PreferredOwners": [], "AutoFailbackType": 0}
    assert roles["GC-N2"]["State"] == "Offline"  # Saved
    assert "vms" not in one


def test_cluster_is_null_without_a_cluster(data):
    del data["cluster"]
    facts, _ = facts_of(data, "HV01")
    assert facts["cluster"] is None


def test_missing_cluster_resource_gives_null_config_store(data):
    data["cluster"]["parameters"] = None
    facts, _ = facts_of(data, "HV01", gather_subset=["cluster"])
    assert facts["cluster"]["Parameters"] == {"ConfigStoreRootPath": None}


def test_vss_access_control_and_writers(data):
    facts, ctx = facts_of(data, "HV01", gather_subset=["vss_access_control", "vss_writers"])
    assert facts["vss_access_control"] == {"LAB\\svc-backup": 1}
    assert "Writer name: 'Microsoft Hyper-V VSS Writer'\n" in facts["vss_writers_text"]
    assert "   State: [5] Waiting for completion\n   Last error: Retryable error\n" in facts["vss_writers_text"]
    assert ctx.warnings == []
    other, _ = facts_of(data, "HV02", gather_subset=["vss_access_control"])
    assert other["vss_access_control"] == {}


def test_failing_vssadmin_is_a_warning(data):
    data["nodes"][1]["vssadmin_error"] = "Error: A Volume Shadow Copy Service component encountered an unexpected error."
    facts, ctx = facts_of(data, "HV02", gather_subset=["vss_writers"])
    assert facts["vss_writers_text"].endswith("unexpected error.\n")
    assert "Writer name" not in facts["vss_writers_text"]
    assert len(ctx.warnings) == 1 and "HV02" in ctx.warnings[0] and "vssadmin" in ctx.warnings[0]


def test_acl_translation_depends_on_the_node(data):
    path = "c:/clusterstorage/volume1/shared/"
    vm_sid = world.vm_sid("d9e0eb0a-5b37-508e-9173-67e9ade83acf")
    seen = {}
    for node in ("HV01", "HV02"):
        facts, _ = facts_of(data, node, gather_subset=[], acl_paths=[path])
        [acl] = facts["acls"]
        assert acl["Path"] == path
        assert (acl["Owner"], acl["OwnerSid"]) == ("BUILTIN\\Administrators", "S-1-5-32-544")
        for ace in acl["Access"]:
            assert set(ace) == ACE_KEYS
        seen[node] = {ace["Sid"]: ace for ace in acl["Access"]}
    assert seen["HV01"][vm_sid]["IdentityReference"] == "NT VIRTUAL MACHINE\\D9E0EB0A-5B37-508E-9173-67E9ADE83ACF"
    assert seen["HV02"][vm_sid]["IdentityReference"] == vm_sid
    assert seen["HV01"][vm_sid] | {"IdentityReference": None} == {
        "IdentityReference": None, "Sid": vm_sid, "FileSystemRights": "FullControl", "AccessControlType": "Allow",
        "InheritanceFlags": "ObjectInherit", "PropagationFlags": "None", "IsInherited": False}
    for node in ("HV01", "HV02"):
        assert seen[node]["S-1-5-18"]["IdentityReference"] == "NT AUTHORITY\\SYSTEM"
        assert seen[node]["S-1-3-0"]["IdentityReference"] == "CREATOR OWNER"
        assert seen[node]["S-1-3-0"]["PropagationFlags"] == "InheritOnly"
        assert seen[node]["S-1-5-18"]["IsInherited"] is True


def test_acls_in_the_order_asked_and_defaults(data):
    facts, _ = facts_of(data, "HV02", gather_subset=[], acl_paths=["D:\\Local", "C:\\ClusterStorage\\Volume1\\Shared"])
    assert [a["Path"] for a in facts["acls"]] == ["D:\\Local", "C:\\ClusterStorage\\Volume1\\Shared"]
    local = facts["acls"][0]
    assert (local["Owner"], local["OwnerSid"]) == ("LAB\\svc-backup", "S-1-5-21-1-2-3-1105")
    assert local["Access"] == [{"IdentityReference": "LAB\\svc-backup", "Sid": "S-1-5-21-1-2-3-1105",
                                "FileSystemRights": "Modify, Synchronize", "AccessControlType": "Deny",
                                "InheritanceFlags": "None", "PropagationFlags": "None", "IsInherited": False}]


@pytest.mark.parametrize("node, params, msg", [
    ("HV01", {"gather_subset": ["checkpoints"]}, "host_facts: gather_subset 'checkpoints' needs 'vms'"),
    ("HV01", {"acl_paths": ["C:\\nope"]}, "host_facts: acl_paths item 'C:\\nope' does not exist on HV01"),
    ("HV01", {"acl_paths": ["D:\\Local"]}, "host_facts: acl_paths item 'D:\\Local' does not exist on HV01"),
    ("HV02", {"acl_paths": ["D:\\Local", "nope"]}, "host_facts: acl_paths item 'nope' is not an absolute path"),
    ("HV02", {"acl_paths": ["C:relative"]}, "host_facts: acl_paths item 'C:relative' is not an absolute path"),
])
def test_errors_name_the_value(data, node, params, msg):
    params.setdefault("gather_subset", list(SUBSETS))
    params.setdefault("acl_paths", [])
    with pytest.raises(ModuleFail) as err:
        host_facts(Context(node=node, data=data), params)
    assert err.value.msg == msg


def test_missing_hyperv_module(data):
    data["nodes"][0]["hyperv_module"] = False
    with pytest.raises(ModuleFail) as err:
        host_facts(Context(node="hv01", data=data), {"gather_subset": ["vms"], "acl_paths": []})
    assert err.value.msg == ("host_facts: the Hyper-V PowerShell module is not available on HV01; "
                             "install the Hyper-V management tools")


def test_a_thousand_vms_on_one_node(data):
    template = data["vms"][0]
    data["vms"] = []
    for n in range(1000):
        vm = copy.deepcopy(template)
        vm["id"] = f"00000000-0000-4000-8000-{n:012x}"
        vm["name"] = f"VM{n:04d}"
        vm["node"] = "HV01" if n % 10 else "HV02"
        vm["scsi_controllers"] = n % 5
        data["vms"].append(vm)
    facts, _ = facts_of(data, "HV01")
    assert len(facts["vms"]) == 900
    assert [vm["Name"] for vm in facts["vms"]][:3] == ["VM0001", "VM0002", "VM0003"]
    assert [len(vm["ScsiControllers"]) for vm in facts["vms"][:5]] == [1, 2, 3, 4, 0]
    assert len(facts["cluster"]["VMRoles"]) == 1000


# -- the demo model ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo():
    return hvsim_model.load_file(os.path.join(MODELS, "demo.yml"))


@pytest.fixture(scope="module")
def demo_facts(demo):
    gc_folders = sorted({world.normalize_path(d["path"].rpartition("\\")[0]) for vm in demo["vms"]
                         for d in vm["hard_disks"] if d["path"].lower().endswith(".vhds")})
    out = {}
    for node in demo["nodes"]:
        facts, _ = facts_of(demo, node["name"], acl_paths=gc_folders)
        out[node["name"].upper()] = facts
    return out


def test_demo_is_what_the_generator_writes(demo):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_demo", os.path.join(MODELS, "make_demo.py"))
    make_demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_demo)
    with open(os.path.join(MODELS, "demo.yml"), encoding="utf-8") as fh:
        assert fh.read() == make_demo.render()
    assert make_demo.render() == make_demo.render()


def test_demo_shape(demo, demo_facts):
    assert [n["name"] for n in demo["nodes"]] == ["HV01", "HV02", "HV03"]
    assert all(n["os_build"] == 20348 for n in demo["nodes"])
    assert demo["credentials"] == {"username": "hvadmin", "password": "hvsim-Passw0rd"}
    assert demo["faults"] == {"latency_ms": 0, "fail_nth": 0, "drop_nth": 0}
    assert 25 <= len(demo["vms"]) <= 35
    # Every VM is reported by exactly one node.
    reported = [vm["Id"] for facts in demo_facts.values() for vm in facts["vms"]]
    assert sorted(reported) == sorted(vm["id"] for vm in demo["vms"])
    # GUIDs are deterministic names.
    for facts in demo_facts.values():
        assert facts["cluster"]["Name"] == "HVC01"
        assert facts["cluster"]["Parameters"]["ConfigStoreRootPath"] == ""
        assert len(facts["cluster"]["SharedVolumes"]) == 3
        assert len({v["OwnerNode"] for v in facts["cluster"]["SharedVolumes"]}) == 3
    generations = {vm["Generation"] for f in demo_facts.values() for vm in f["vms"]}
    assert generations == {1, 2}
    states = [vm["State"] for f in demo_facts.values() for vm in f["vms"]]
    assert states.count("Running") > len(states) / 2 and {"Off", "Saved"} <= set(states)


def all_vms(demo_facts):
    return [dict(vm, Node=node) for node, facts in demo_facts.items() for vm in facts["vms"]]


def test_demo_checkpoint_drift(demo, demo_facts):
    vms = all_vms(demo_facts)
    standard = [vm for vm in vms if vm["CheckpointType"] == "Standard"]
    disabled = [vm for vm in vms if vm["CheckpointType"] == "Disabled"]
    automatic = [vm for vm in vms if vm["AutomaticCheckpointsEnabled"]]
    assert len(standard) == sum(vm["checkpoint_type"] == "Standard" for vm in demo["vms"])
    assert 4 <= len(standard) <= 8 and 1 <= len(disabled) <= 3 and 1 <= len(automatic) <= 3
    reference = datetime(2026, 11, 20, 6, tzinfo=timezone.utc)
    recovery = [(vm["Name"], cp) for vm in vms for cp in vm["Checkpoints"] if cp["SnapshotType"] == "Recovery"]
    assert len(recovery) == 1
    created = datetime.strptime(recovery[0][1]["CreationTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert timedelta(days=14) < reference - created < timedelta(days=42)
    assert len([vm for vm in vms if not vm["BackupIntegration"]["Enabled"]]) == 1


def test_demo_scsi_drift(demo_facts):
    vms = all_vms(demo_facts)
    no_scsi = [vm for vm in vms if not vm["ScsiControllers"]]
    assert len(no_scsi) == 2
    assert all(vm["Generation"] == 1 for vm in no_scsi)
    assert sorted(vm["State"] for vm in no_scsi) == ["Off", "Running"]
    assert all(d["ControllerType"] == "IDE" for vm in no_scsi for d in vm["HardDisks"])
    # Generation 2 VMs boot from SCSI 0:0.
    for vm in vms:
        if vm["Generation"] == 2:
            assert (vm["HardDisks"][0]["ControllerType"], vm["HardDisks"][0]["ControllerNumber"],
                    vm["HardDisks"][0]["ControllerLocation"]) == ("SCSI", 0, 0)
        for controller in vm["ScsiControllers"]:
            on = [d for d in vm["HardDisks"] if d["ControllerType"] == "SCSI"
                  and d["ControllerNumber"] == controller["ControllerNumber"]]
            assert controller["DiskCount"] == len(on)


def test_demo_placement_drift(demo_facts):
    volumes = demo_facts["HV01"]["cluster"]["SharedVolumes"]
    off_owner = []
    for vm in all_vms(demo_facts):
        [volume] = [v for v in volumes if world.is_under(vm["Path"], v["Path"])]
        if volume["OwnerNode"] != vm["Node"]:
            off_owner.append(vm["Name"])
    assert 6 <= len(off_owner) <= 10
    roles = {r["Name"]: r["OwnerNode"] for r in demo_facts["HV01"]["cluster"]["VMRoles"]}
    assert roles == {vm["Name"]: vm["Node"] for vm in all_vms(demo_facts)}


def test_demo_vss_drift(demo_facts):
    from ansible_collections.hyperv.backup.plugins.plugin_utils._vss import parse_vss_writers

    granted = {node: f["vss_access_control"].get("LAB\\svc-veeam") for node, f in demo_facts.items()}
    assert granted == {"HV01": 1, "HV02": 0, "HV03": None}  # HV02 denies the account, HV03 lacks it
    troubled = {node: [(w["Name"], w["State"], w["LastError"]) for w in parse_vss_writers(f["vss_writers_text"])
                       if w["State"] != 1 or w["LastError"] != "No error"] for node, f in demo_facts.items()}
    assert troubled == {"HV01": [], "HV02": [("Microsoft Hyper-V VSS Writer", 1, "Retryable error")], "HV03": []}


def test_demo_guest_cluster_acl_drift(demo_facts):
    vms = all_vms(demo_facts)
    sharing = [vm for vm in vms if any(d["IsVhdSet"] and d["SupportPersistentReservations"] for d in vm["HardDisks"])]
    assert sorted(vm["Name"] for vm in sharing) == ["GC-SQL-N1", "GC-SQL-N2"]
    assert all(len(vm["ScsiControllers"]) >= 2 for vm in sharing)
    folders = {world.path_key(d["Path"].rpartition("\\")[0]) for vm in sharing for d in vm["HardDisks"] if d["IsVhdSet"]}
    assert len(folders) == 1 and world.is_under(folders.pop(), "C:\\ClusterStorage")
    granted = {}
    for node, facts in demo_facts.items():
        [acl] = facts["acls"]
        sids = {ace["Sid"] for ace in acl["Access"]}
        assert {"S-1-5-18", "S-1-5-32-544", "S-1-3-0", "S-1-5-83-0"} <= sids
        for vm in sharing:
            aces = [a for a in acl["Access"] if a["Sid"] == world.vm_sid(vm["Id"])]
            granted.setdefault(vm["Name"], set()).add(bool(aces))
            for ace in aces:
                assert (ace["FileSystemRights"], ace["InheritanceFlags"], ace["IsInherited"]) == \
                    ("FullControl", "ObjectInherit", False)
                expected = ("NT VIRTUAL MACHINE\\" + vm["Id"].upper()) if node == vm["Node"] else ace["Sid"]
                assert ace["IdentityReference"] == expected
    # The same ACL from every node; the ACE exists for one guest node and is missing for the other.
    assert sorted(len(v) for v in granted.values()) == [1, 1]
    assert sorted(v.pop() for v in granted.values()) == [False, True]


def test_demo_over_winrm(tmp_path):
    """The demo model served by hvsim answers host_facts per node over a real WinRM endpoint."""
    from hvsim.testing import Lab

    lab = Lab.start("demo", tmp_path / "lab")
    try:
        model = lab.read_model()
        for node in lab.nodes:
            rc, result, _ = lab.call(node, "host_facts", {"gather_subset": ["vms"]})
            assert rc == 0 and result.get("failed") is not True, result
            facts = result["ansible_facts"]["hyperv_backup"]
            assert facts["node"]["Name"] == node.upper()
            assert {vm["Name"] for vm in facts["vms"]} == \
                {vm["name"] for vm in model["vms"] if vm["node"].upper() == node.upper()}
        rc, result, _ = lab.call(lab.nodes[0], "host_facts", {"acl_paths": ["nope"]})
        assert result["failed"] is True
        assert result["msg"] == "host_facts: acl_paths item 'nope' is not an absolute path"
    finally:
        lab.stop()


def test_a_vm_without_the_backup_integration_service_reports_null(data):
    vm = data["vms"][0]
    vm["backup_integration"] = None
    result = ops.run("host_facts", vm["node"], data, {"gather_subset": ["vms"]})
    [facts] = [v for v in result["ansible_facts"]["hyperv_backup"]["vms"] if v["Id"] == vm["id"].lower()]
    assert facts["BackupIntegration"] is None
