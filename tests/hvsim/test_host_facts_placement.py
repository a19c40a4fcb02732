"""host_facts' placement facts in hvsim: memory, disk sizes, owners, drain status and balancing settings,
and the warnings when one of them cannot be read."""
import pytest
import yaml

from hvsim import world
from hvsim.ops import Context
from hvsim.ops.host_facts import host_facts

GIB = 2 ** 30

MODEL = r"""
credentials: {username: u, password: p}
cluster:
  name: HVCT
  shared_volumes:
    - {name: Cluster Disk 1, path: 'C:\ClusterStorage\Volume1', owner_node: HV01, state: Online}
  csv_balancer: 0
  auto_balancer_mode: 1
  auto_balancer_level: 3
  cluster_enforced_anti_affinity: 1
nodes:
  - {name: HV01, state: Up, memory_capacity: 137438953472}
  - {name: HV02, state: Paused, drain_status: Completed}
vms:
  - id: 0a000000-0000-4000-8000-00000000000a
    name: SQL01
    node: HV01
    state: Running
    memory_startup: 8589934592
    memory_assigned: 6442450944
    path: 'C:\ClusterStorage\Volume1\SQL01'
    clustered: true
    possible_owners: [HV01]
    preferred_owners: [hv01, HV02]
    auto_failback: 1
    hard_disks:
      - {path: 'C:\ClusterStorage\Volume1\SQL01\os.vhdx', file_size: 42949672960}
      - {path: 'C:\ClusterStorage\Volume1\SQL01\data.vhdx'}
      - {path: 'C:\ClusterStorage\Volume1\Shared\quorum.vhds', shared: true, file_size: 4194304}
      - {path: 'C:\ClusterStorage\Volume1\Shared\witness.vhdx', shared: true}
  - id: 0b000000-0000-4000-8000-00000000000b
    name: WEB01
    node: HV01
    state: Off
    memory_startup: 4294967296
    path: 'C:\ClusterStorage\Volume1\WEB01'
    clustered: true
    hard_disks:
      - {path: 'C:\ClusterStorage\Volume1\WEB01\os.vhdx', file_size: 1073741824}
"""


@pytest.fixture
def data():
    return yaml.safe_load(MODEL)


def gather(data, node="HV01", subset=("cluster", "vms")):
    ctx = Context(node=node, data=data)
    facts = host_facts(ctx, {"gather_subset": list(subset), "acl_paths": []})["ansible_facts"]["hyperv_backup"]
    return facts, ctx.warnings


def test_node_memory_capacity_and_its_default(data):
    facts, _ = gather(data, subset=())
    assert facts["node"]["MemoryCapacity"] == 128 * GIB
    other, _ = gather(data, node="HV02", subset=())
    assert other["node"]["MemoryCapacity"] == world.DEFAULT_MEMORY_CAPACITY


def test_memory_assigned_is_what_the_vm_holds(data):
    facts, warnings = gather(data)
    vms = {vm["Name"]: vm for vm in facts["vms"]}
    assert vms["SQL01"]["MemoryAssigned"] == 6 * GIB
    assert vms["WEB01"]["MemoryAssigned"] == 0  # Off: it holds no host memory
    del data["vms"][0]["memory_assigned"]
    assert gather(data)[0]["vms"][0]["MemoryAssigned"] == 8 * GIB  # Running: its startup memory
    assert warnings == []


def test_disk_file_sizes_and_shared_disks_left_unsized(data):
    facts, warnings = gather(data)
    disks = facts["vms"][0]["HardDisks"]
    assert [d["FileSize"] for d in disks] == [40 * GIB, world.DEFAULT_DISK_FILE_SIZE, None, None]
    assert warnings == []


def test_cluster_settings_drain_status_and_owners(data):
    facts, warnings = gather(data)
    cluster = facts["cluster"]
    assert {k: cluster[k] for k in ("CsvBalancer", "AutoBalancerMode", "AutoBalancerLevel",
                                    "ClusterEnforcedAntiAffinity")} == {
        "CsvBalancer": 0, "AutoBalancerMode": 1, "AutoBalancerLevel": 3, "ClusterEnforcedAntiAffinity": 1}
    assert [(n["Name"], n["State"], n["DrainStatus"]) for n in cluster["Nodes"]] == [
        ("HV01", "Up", "NotInitiated"), ("HV02", "Paused", "Completed")]
    roles = {r["Name"]: r for r in cluster["VMRoles"]}
    assert (roles["SQL01"]["PossibleOwners"], roles["SQL01"]["PreferredOwners"], roles["SQL01"]["AutoFailbackType"]) == \
        (["HV01"], ["HV01", "HV02"], 1)
    assert (roles["WEB01"]["PossibleOwners"], roles["WEB01"]["PreferredOwners"], roles["WEB01"]["AutoFailbackType"]) == \
        (["HV01", "HV02"], [], 0)  # every node, none, no failback
    assert warnings == []


def test_default_balancing_settings_are_windows_defaults(data):
    for key in ("csv_balancer", "auto_balancer_mode", "auto_balancer_level", "cluster_enforced_anti_affinity"):
        del data["cluster"][key]
    cluster = gather(data, subset=("cluster",))[0]["cluster"]
    assert (cluster["CsvBalancer"], cluster["AutoBalancerMode"], cluster["AutoBalancerLevel"],
            cluster["ClusterEnforcedAntiAffinity"]) == (1, 2, 1, 0)


def test_get_vhd_failing_for_one_disk_is_a_warning_for_that_vm(data):
    data["faults"] = {"cmdlets": [{"cmdlet": "Get-VHD", "vm": "WEB01", "message": "The file is locked."}]}
    facts, warnings = gather(data)
    vms = {vm["Name"]: vm for vm in facts["vms"]}
    assert vms["WEB01"]["HardDisks"][0]["FileSize"] is None
    assert vms["SQL01"]["HardDisks"][0]["FileSize"] == 40 * GIB  # read again on its own, per path
    [warning] = warnings
    assert warning.startswith("host_facts: VM 'WEB01' (0b000000-0000-4000-8000-00000000000b) on HV01 is reported in part")
    assert "FileSize of C:\\ClusterStorage\\Volume1\\WEB01\\os.vhdx (Get-VHD: The file is locked.)" in warning


def test_get_vhd_returning_nothing_leaves_sizes_unknown(data):
    data["faults"] = {"cmdlets": [{"cmdlet": "Get-VHD", "ignore": True}]}
    facts, warnings = gather(data)
    assert all(d["FileSize"] is None for vm in facts["vms"] for d in vm["HardDisks"])
    assert any("Get-VHD returned no object for C:\\ClusterStorage\\Volume1\\SQL01\\os.vhdx" in w for w in warnings)


def test_owner_lists_that_cannot_be_read_are_null_with_a_warning(data):
    data["faults"] = {"cmdlets": [{"cmdlet": "Get-ClusterOwnerNode", "vm": "SQL01", "message": "RPC server unavailable"}]}
    facts, warnings = gather(data)
    roles = {r["Name"]: r for r in facts["cluster"]["VMRoles"]}
    assert roles["SQL01"]["PreferredOwners"] is None and roles["SQL01"]["PossibleOwners"] is None
    assert roles["WEB01"]["PossibleOwners"] == ["HV01", "HV02"]
    assert warnings == ["host_facts: VM role 'SQL01' is reported in part, with null for what could not be read: "
                        "PreferredOwners (Get-ClusterOwnerNode: RPC server unavailable); "
                        "PossibleOwners (Get-ClusterOwnerNode: RPC server unavailable)"]


def test_get_vmhost_failing_leaves_the_capacity_null(data):
    data["faults"] = {"cmdlets": [{"cmdlet": "Get-VMHost", "message": "Access denied."}]}
    facts, warnings = gather(data, subset=())
    assert facts["node"]["MemoryCapacity"] is None
    assert warnings == ["host_facts: reading the memory capacity of HV01 failed, so MemoryCapacity is null: "
                        "Get-VMHost: Access denied."]
