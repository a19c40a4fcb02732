"""hvsim's csv_placement operation: cluster moves with the failover cluster's rules, run on model data."""
import copy
import re

import pytest

from hvsim import model as hvsim_model
from hvsim import ops, world
from hvsim.ops import Context, ModuleFail
from hvsim.ops.csv_placement import csv_placement

GIB = 2 ** 30
IDS = {"A": "0a000000-0000-4000-8000-00000000000a", "B": "0b000000-0000-4000-8000-00000000000b",
       "C": "0c000000-0000-4000-8000-00000000000c", "D": "0d000000-0000-4000-8000-00000000000d"}


def vm(name, node, state="Running", memory=8, **extra):
    data = {"id": IDS[name], "name": name, "node": node, "state": state, "memory_startup": memory * GIB,
            "path": f"C:\\ClusterStorage\\Volume1\\{name}", "clustered": True, "anti_affinity_class_names": [],
            "hard_disks": [{"path": f"C:\\ClusterStorage\\Volume1\\{name}\\os.vhdx", "shared": False}]}
    data.update(extra)
    return data


@pytest.fixture
def data():
    return hvsim_model.validate({
        "credentials": {"username": "u", "password": "p"},
        "cluster": {"name": "HVCT", "shared_volumes": [
            {"name": "Cluster Disk 1", "path": "C:\\ClusterStorage\\Volume1", "owner_node": "HV01", "state": "Online"},
            {"name": "Cluster Disk 2", "path": "C:\\ClusterStorage\\Volume2", "owner_node": "HV02", "state": "Online"}]},
        "nodes": [{"name": "HV01", "state": "Up", "memory_capacity": 64 * GIB},
                  {"name": "HV02", "state": "Up", "memory_capacity": 64 * GIB},
                  {"name": "HV03", "state": "Up", "memory_capacity": 64 * GIB}],
        "vms": [vm("A", "HV02"), vm("B", "HV02", state="Off"), vm("C", "HV03", state="Saved"), vm("D", "HV01")],
    })


def move(name, to, frm=None, kind="vm"):
    item = {"kind": kind, "name": name, "from": frm, "to": to}
    if kind == "vm":
        item["id"] = IDS[name]
    return item


def run(data, moves, node="HV01", check_mode=False, **params):
    ops.load_all()
    args = {"moves": moves, "cluster": "HVCT", "_ansible_check_mode": check_mode}
    args.update(params)
    return ops.run("csv_placement", node, data, args)


def find(data, name):
    return world.find_vm(data, name=name)


def test_a_running_vm_is_live_migrated_and_read_back(data):
    result = run(data, [move("A", "HV01", "HV02")])
    assert result["changed"] is True
    [item] = result["moves"]
    assert (item["status"], item["method"], item["owner"]) == ("moved", "live", "HV01")
    assert find(data, "A")["node"] == "HV01" and world.vm_state(find(data, "A")) == "Running"
    assert item["seconds"] == 2.0 + 8.0  # 8 GiB at the default 1 GiB/s, plus 2 s


def test_seconds_grow_with_memory_and_quick_copies_twice(data):
    data["cluster"]["live_migration_rate"] = 2 * GIB
    data["vms"][0]["memory_startup"] = 32 * GIB
    assert run(data, [move("A", "HV01", "HV02")])["moves"][0]["seconds"] == 2.0 + 16.0
    assert run(data, [move("A", "HV02", "HV01")], migration_type="quick")["moves"][0] == {
        "kind": "vm", "name": "A", "id": IDS["A"], "from": "HV01", "to": "HV02",
        "status": "moved", "method": "quick", "seconds": 2.0 + 32.0, "owner": "HV02"}


def test_off_and_saved_vms_change_owner_and_keep_their_state(data):
    result = run(data, [move("B", "HV01", "HV02"), move("C", "HV01", "HV03")])
    assert [(m["status"], m["method"], m["seconds"]) for m in result["moves"]] == [
        ("moved", "ownership", 1.0), ("moved", "ownership", 1.0)]
    assert (find(data, "B")["node"], world.vm_state(find(data, "B"))) == ("HV01", "Off")
    assert (find(data, "C")["node"], world.vm_state(find(data, "C"))) == ("HV01", "Saved")


@pytest.mark.parametrize("state, drain, text", [
    ("Paused", None, "the cluster node HV03 is Paused"),
    ("Down", None, "the cluster node HV03 is Down"),
    ("Up", "InProgress", "the cluster node HV03 is draining"),
])
def test_a_target_that_is_not_up_refuses_with_the_clusters_text(data, state, drain, text):
    data["nodes"][2]["state"] = state
    if drain:
        data["nodes"][2]["drain_status"] = drain
    before = copy.deepcopy(data)
    result = run(data, [move("A", "HV03", "HV02"), move("Cluster Disk 1", "HV03", "HV01", kind="csv")])
    assert [m["status"] for m in result["moves"]] == ["failed", "failed"]
    assert all(text in m["error"] for m in result["moves"])
    assert data == before


def test_possible_owners_are_obeyed(data):
    data["vms"][0]["possible_owners"] = ["HV02", "HV03"]
    result = run(data, [move("A", "HV01", "HV02")])
    assert result["moves"][0]["status"] == "failed"
    assert "HV01 is not a possible owner" in result["moves"][0]["error"] and "HV02, HV03" in result["moves"][0]["error"]
    assert run(data, [move("A", "HV03", "HV02")])["moves"][0]["status"] == "moved"


def test_anti_affinity_is_soft_by_default_and_refused_when_enforced(data):
    data["vms"][0]["anti_affinity_class_names"] = ["SQL"]
    data["vms"][3]["anti_affinity_class_names"] = ["sql"]  # on HV01; class names are compared without case
    data["cluster"]["cluster_enforced_anti_affinity"] = 1
    refused = run(data, [move("A", "HV01", "HV02")])["moves"][0]
    assert refused["status"] == "failed"
    assert "'D' runs there with the same anti-affinity class" in refused["error"]
    assert "ClusterEnforcedAntiAffinity is 1" in refused["error"]
    data["cluster"]["cluster_enforced_anti_affinity"] = 0
    assert run(data, [move("A", "HV01", "HV02")])["moves"][0]["status"] == "moved"


def test_a_live_migration_needs_a_running_vm_and_the_memory_on_the_target(data):
    data["vms"][0]["state"] = "Paused"  # its role is Online: migrated, and hvsim refuses a VM that is not Running
    paused = run(data, [move("A", "HV01", "HV02")])["moves"][0]
    assert paused["status"] == "failed" and "the virtual machine is Paused" in paused["error"]
    data["vms"][0]["state"] = "Running"
    data["vms"][0]["memory_startup"] = 60 * GIB  # HV01 has 64 GiB and D holds 8
    short = run(data, [move("A", "HV01", "HV02")])["moves"][0]
    assert short["status"] == "failed"
    assert "not enough memory on HV01 (it needs 61440 MB, 57344 MB are free)" in short["error"]


def test_a_vm_starting_or_stopping_is_not_moved(data):
    data["vms"][0]["state"] = "Stopping"
    item = run(data, [move("A", "HV01", "HV02")])["moves"][0]
    assert item["status"] == "failed" and "is Pending" in item["error"]
    assert find(data, "A")["node"] == "HV02"


def test_a_csv_moves_and_an_offline_csv_does_not(data):
    result = run(data, [move("Cluster Disk 1", "HV02", "HV01", kind="csv")])
    assert result["moves"][0] == {"kind": "csv", "name": "Cluster Disk 1", "id": None, "from": "HV01", "to": "HV02",
                                  "status": "moved", "method": "ownership", "seconds": 2.0, "owner": "HV02"}
    assert data["cluster"]["shared_volumes"][0]["owner_node"] == "HV02"
    data["cluster"]["shared_volumes"][1]["state"] = "Offline"
    item = run(data, [move("Cluster Disk 2", "HV03", "HV02", kind="csv")])["moves"][0]
    assert item["status"] == "failed" and "is Offline; only an Online volume is moved" in item["error"]


def test_fail_move_names_the_object_and_the_others_go_on(data):
    data["faults"] = {"fail_move": ["A", "Cluster Disk 2"]}
    result = run(data, [move("A", "HV01", "HV02"), move("Cluster Disk 2", "HV03", "HV02", kind="csv"),
                        move("D", "HV03", "HV01")])
    assert [m["status"] for m in result["moves"]] == ["failed", "failed", "moved"]
    assert "The migration of 'A' to HV01 failed" in result["moves"][0]["error"]
    assert "Cluster Shared Volume 'Cluster Disk 2' to HV03 failed" in result["moves"][1]["error"]
    assert find(data, "A")["node"] == "HV02" and find(data, "D")["node"] == "HV03"


def test_what_is_already_there_is_ok_and_what_moved_since_the_plan_is_refused(data):
    result = run(data, [move("A", "HV02", "HV01"), move("D", "HV02", "HV03")])
    assert result["moves"][0]["status"] == "ok" and result["moves"][0]["owner"] == "HV02"
    assert result["moves"][1]["status"] == "failed"
    assert "'D' is on HV01, not on HV03 as planned" in result["moves"][1]["error"]
    assert result["changed"] is False


def test_check_mode_changes_nothing(data):
    before = copy.deepcopy(data)
    result = run(data, [move("A", "HV01", "HV02")], check_mode=True)
    assert result["changed"] is True and result["moves"][0]["status"] == "moved"
    assert data == before


def test_bad_ids_and_unknown_objects_fail_that_move(data):
    bad = dict(move("A", "HV01", "HV02"), id="nope")
    unknown = dict(move("A", "HV01", "HV02"), id="0e000000-0000-4000-8000-00000000000e")
    result = run(data, [bad, unknown, move("Cluster Disk 9", "HV01", "HV02", kind="csv")])
    assert [m["status"] for m in result["moves"]] == ["failed"] * 3
    assert result["moves"][0]["error"] == "'nope' is not a VM ID (a GUID)"
    assert "no role for the VM with ID 0e000000" in result["moves"][1]["error"]
    assert "'Cluster Disk 9' was not found" in result["moves"][2]["error"]


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(cluster=dict(d["cluster"], name="OTHER")),
     "HV01 is a node of cluster OTHER, not of HVCT whose placement was planned"),
    (lambda d: d["nodes"][0].update(cluster_service="Stopped"), "the cluster service (ClusSvc) is Stopped on HV01"),
    (lambda d: d["nodes"][0].update(failover_clusters_module=False), "HV01 has no FailoverClusters PowerShell module"),
])
def test_the_node_must_run_the_planned_cluster(data, change, message):
    change(data)
    result = run(data, [move("A", "HV01", "HV02")])
    assert result["failed"] is True and message in result["msg"]
    assert "moves" not in result and find(data, "A")["node"] == "HV02"


def test_arguments_a_host_refuses(data):
    ctx = Context(node="HV01", data=data)
    with pytest.raises(ModuleFail, match="moves\\[0\\] moves the VM 'A' but has no id"):
        csv_placement(ctx, {"moves": [{"kind": "vm", "name": "A", "from": "HV02", "to": "HV01", "id": None}],
                            "cluster": "HVCT", "migration_type": "live", "timeout": 60})
    with pytest.raises(ModuleFail, match="timeout 0 must be at least 1 second"):
        csv_placement(ctx, {"moves": [], "cluster": "HVCT", "migration_type": "live", "timeout": 0})
    assert run(data, [dict(move("A", "HV01", "HV02"), kind="vmm")])["failed"] is True


def test_cmdlet_faults_apply_to_the_moves(data):
    data["faults"] = {"cmdlets": [{"cmdlet": "Move-ClusterVirtualMachineRole", "vm": "A",
                                   "message": "The cluster network is not available."}]}
    result = run(data, [move("A", "HV01", "HV02"), move("B", "HV01", "HV02")])
    assert result["moves"][0]["status"] == "failed" and result["moves"][0]["error"] == "The cluster network is not available."
    assert result["moves"][1]["status"] == "moved"  # Off: Move-ClusterGroup


def test_a_move_whose_owner_cannot_be_read_back_fails_saying_so(data):
    data["faults"] = {"cmdlets": [{"cmdlet": "Get-ClusterGroup", "after": 1, "message": "The RPC server is unavailable."}]}
    item = run(data, [move("A", "HV01", "HV02")])["moves"][0]
    assert (item["status"], item["owner"]) == ("failed", None)
    assert item["error"] == ("the cluster returned without an error, but reading where 'A' is then failed: "
                             "The RPC server is unavailable.; run again to see where it is")
    assert find(data, "A")["node"] == "HV01"  # it did move


@pytest.mark.parametrize("change, message", [
    (lambda d: d["cluster"].update(csv_balancer=2), "cluster.csv_balancer must be one of 0, 1"),
    (lambda d: d["cluster"].update(auto_balancer_level=0), "cluster.auto_balancer_level must be one of 1, 2, 3"),
    (lambda d: d["cluster"].update(live_migration_rate=0), "live_migration_rate must be a number of bytes per second"),
    (lambda d: d["nodes"][0].update(memory_capacity=-1), "nodes[0].memory_capacity must be a number of bytes"),
    (lambda d: d["nodes"][0].update(drain_status="Draining"), "nodes[0].drain_status must be one of NotInitiated"),
    (lambda d: d["vms"][0].update(memory_assigned="8G"), "VM 'A': memory_assigned must be a number of bytes"),
    (lambda d: d["vms"][0].update(possible_owners=["HV09"]), "VM 'A': possible_owners names unknown node(s) HV09"),
    (lambda d: d["vms"][0].update(auto_failback=True), "VM 'A': auto_failback must be 0 or 1"),
    (lambda d: d["vms"][0]["hard_disks"][0].update(file_size=1.5), "hard_disks file_size must be a number of bytes"),
    (lambda d: d.update(faults={"fail_move": "A"}), "faults.fail_move must be a list"),
])
def test_the_model_validates_the_placement_keys(data, change, message):
    change(data)
    with pytest.raises(hvsim_model.ModelError, match=re.escape(message)):
        hvsim_model.validate(data)
