"""hvsim's checkpoint_type: Set-VM's rules against the model, the .ps1's arguments and results."""
import copy
import re

import pytest

from hvsim import ops
from hvsim.ops import checkpoint_type as op_module
from hvsim.testing import model_path
from hvsim.model import load_file

SQL01 = "d9e0eb0a-5b37-508e-9173-67e9ade83acf"   # HV01, Production, automatic checkpoints off
WEB01 = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"   # HV02, Standard, automatic checkpoints on


@pytest.fixture
def data():
    return load_file(model_path("minimal"))


def run(data, node, operations, check_mode=False):
    return ops.run("checkpoint_type", node, data, {"operations": operations, "_ansible_check_mode": check_mode})


def vm(data, vm_id):
    return next(v for v in data["vms"] if v["id"] == vm_id)


def test_sets_only_what_differs_and_reads_back():
    data = copy.deepcopy(load_file(model_path("minimal")))
    result = run(data, "HV02", [{"id": WEB01, "name": "WEB01", "checkpoint_type": "Production",
                                 "automatic_checkpoints": False}])
    assert result["changed"] is True
    assert result["vms"] == [{"id": WEB01, "name": "WEB01", "status": "changed",
                              "before": {"CheckpointType": "Standard", "AutomaticCheckpointsEnabled": True},
                              "after": {"CheckpointType": "Production", "AutomaticCheckpointsEnabled": False}}]
    assert vm(data, WEB01)["checkpoint_type"] == "Production" and vm(data, WEB01)["automatic_checkpoints"] is False


def test_a_running_vm_can_be_changed(data):
    assert vm(data, SQL01)["state"] == "Running"
    result = run(data, "HV01", [{"id": SQL01, "name": "SQL01", "checkpoint_type": "ProductionOnly"}])
    assert result["vms"][0]["status"] == "changed"
    assert vm(data, SQL01)["checkpoint_type"] == "ProductionOnly"


def test_already_so_is_ok_and_unchanged(data):
    before = copy.deepcopy(data)
    result = run(data, "HV01", [{"id": SQL01.upper(), "name": "SQL01", "checkpoint_type": "Production",
                                 "automatic_checkpoints": False}])
    assert result["changed"] is False and result["vms"][0]["status"] == "ok"
    assert data == before


def test_check_mode_reports_and_changes_nothing(data):
    before = copy.deepcopy(data)
    result = run(data, "HV02", [{"id": WEB01, "name": "WEB01", "checkpoint_type": "Disabled"}], check_mode=True)
    assert result["changed"] is True
    assert result["vms"][0]["after"]["CheckpointType"] == "Disabled"
    assert data == before


def test_a_vm_of_another_node_is_not_found_there(data):
    before = copy.deepcopy(data)
    result = run(data, "HV01", [{"id": WEB01, "name": "WEB01", "checkpoint_type": "Production"},
                                {"id": "not-a-guid", "name": "X", "checkpoint_type": "Production"},
                                {"id": SQL01, "name": "SQL01", "checkpoint_type": "Standard"}])
    statuses = [(item["status"], item.get("error", "")) for item in result["vms"]]
    assert statuses[0] == ("failed", f'Hyper-V was unable to find a virtual machine with ID "{WEB01}".')
    assert statuses[1] == ("failed", "'not-a-guid' is not a VM ID (a GUID)")
    assert statuses[2] == ("changed", "")
    assert "failed" not in result
    assert vm(data, WEB01) == vm(before, WEB01)


def test_automatic_checkpoints_need_build_16299(data):
    data["nodes"][0]["os_build"] = 14393
    before = copy.deepcopy(data)
    result = run(data, "HV01", [{"id": SQL01, "name": "SQL01", "automatic_checkpoints": True}])
    item = result["vms"][0]
    assert item["status"] == "failed"
    assert item["error"] == "automatic checkpoints need Windows build 16299 (version 1709) or later; HV01 runs build 14393"
    assert item["before"]["AutomaticCheckpointsEnabled"] is None
    assert data == before


def test_unknown_checkpoint_type_fails_the_module(data):
    result = run(data, "HV01", [{"id": SQL01, "name": "SQL01", "checkpoint_type": "Snapshot"}])
    assert result["failed"] is True and "Snapshot" in result["msg"]


def test_spec_mirrors_the_ps1():
    with open("plugins/modules/checkpoint_type.ps1", encoding="utf-8") as fh:
        ps1 = fh.read()
    declared = set(re.findall(r"^\s*(\w+) = @\{", ps1, re.M)) - {"spec", "options"}
    spec = op_module.SPEC["options"]
    assert declared == set(spec) | set(spec["operations"]["options"])
