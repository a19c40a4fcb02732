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


def test_automatic_checkpoints_need_the_set_vm_parameter_of_the_host(data):
    data["nodes"][0]["os_build"] = 14393   # no set_vm_parameters in the model: derived from the build
    before = copy.deepcopy(data)
    result = run(data, "HV01", [{"id": SQL01, "name": "SQL01", "automatic_checkpoints": True}])
    item = result["vms"][0]
    assert item["status"] == "failed"
    assert item["error"] == ("automatic checkpoints are not available on HV01 (build 14393): its Set-VM has no "
                             "AutomaticCheckpointsEnabled parameter")
    assert item["before"]["AutomaticCheckpointsEnabled"] is None
    assert data == before


def test_the_parameter_is_asked_of_the_host_not_derived_from_its_build(data):
    # A new build without the parameter, and an old one with it: the parameter decides.
    data["nodes"][0]["set_vm_parameters"] = ["CheckpointType", "VM", "Name"]
    result = run(data, "HV01", [{"id": SQL01, "name": "SQL01", "automatic_checkpoints": True}])
    assert result["vms"][0]["status"] == "failed" and "no AutomaticCheckpointsEnabled" in result["vms"][0]["error"]
    data["nodes"][0].update(os_build=14393, set_vm_parameters=["CheckpointType", "AutomaticCheckpointsEnabled"])
    result = run(data, "HV01", [{"id": SQL01, "name": "SQL01", "automatic_checkpoints": True}])
    assert result["vms"][0]["status"] == "changed" and vm(data, SQL01)["automatic_checkpoints"] is True


def test_a_choice_in_another_case_is_applied_as_the_enumeration_spells_it(data):
    result = run(data, "HV02", [{"id": WEB01, "name": "WEB01", "checkpoint_type": "productiononly"}])
    assert result["vms"][0]["status"] == "changed"
    assert result["vms"][0]["after"]["CheckpointType"] == "ProductionOnly"
    assert vm(data, WEB01)["checkpoint_type"] == "ProductionOnly"
    again = run(data, "HV02", [{"id": WEB01, "name": "WEB01", "checkpoint_type": "PRODUCTIONONLY"}])
    assert again["changed"] is False and again["vms"][0]["status"] == "ok"


def test_an_old_configuration_version_keeps_its_type_and_the_read_back_fails_the_vm(data):
    vm(data, WEB01)["version"] = "5.0"
    result = run(data, "HV02", [{"id": WEB01, "name": "WEB01", "checkpoint_type": "Production",
                                 "automatic_checkpoints": False}])
    item = result["vms"][0]
    assert item["status"] == "failed"
    assert item["after"] == {"CheckpointType": "Standard", "AutomaticCheckpointsEnabled": False}
    assert item["error"] == ("Set-VM returned without an error, but 'WEB01' still has other settings: "
                             "CheckpointType is Standard (asked: Production). Production checkpoints need VM "
                             "configuration version 6.2 or later and 'WEB01' has 5.0: update it with "
                             "Update-VMVersion while it is Off")
    assert vm(data, WEB01)["checkpoint_type"] == "Standard"
    assert vm(data, WEB01)["automatic_checkpoints"] is False   # the setting that could take did


def test_a_setting_that_does_not_take_fails_the_vm(data):
    data["faults"]["cmdlets"] = [{"cmdlet": "Set-VM", "vm": "WEB01", "ignore": True}]
    result = run(data, "HV02", [{"id": WEB01, "name": "WEB01", "checkpoint_type": "Production"}])
    item = result["vms"][0]
    assert item["status"] == "failed"
    assert item["error"] == ("Set-VM returned without an error, but 'WEB01' still has other settings: "
                             "CheckpointType is Standard (asked: Production)")


def test_set_vm_and_the_read_back_failing_are_per_vm_failures(data):
    data["faults"]["cmdlets"] = [{"cmdlet": "Set-VM", "vm": "SQL01", "message": "The operation failed."},
                                 {"cmdlet": "Get-VM", "vm": "WEB01", "after": 1, "message": "RPC server unavailable."}]
    first = run(data, "HV01", [{"id": SQL01, "name": "SQL01", "checkpoint_type": "Standard"}])["vms"][0]
    assert (first["status"], first["error"], first["after"]) == ("failed", "The operation failed.", first["before"])
    second = run(data, "HV02", [{"id": WEB01, "name": "WEB01", "checkpoint_type": "Production"}])["vms"][0]
    assert (second["status"], second["error"]) == ("failed", "reading 'WEB01' back after Set-VM failed: RPC server "
                                                              "unavailable.")


def test_a_module_failure_returns_only_what_a_host_would_have_set(data):
    data["nodes"][0]["hyperv_module"] = False
    result = run(data, "HV01", [{"id": SQL01, "name": "SQL01", "checkpoint_type": "Standard"}])
    assert result["failed"] is True and result["changed"] is False and "vms" not in result
    assert "Hyper-V PowerShell module is not available on HV01" in result["msg"]


def test_unknown_checkpoint_type_fails_the_module(data):
    result = run(data, "HV01", [{"id": SQL01, "name": "SQL01", "checkpoint_type": "Snapshot"}])
    assert result["failed"] is True and "Snapshot" in result["msg"]


def test_spec_mirrors_the_ps1():
    with open("plugins/modules/checkpoint_type.ps1", encoding="utf-8") as fh:
        ps1 = fh.read()
    declared = set(re.findall(r"^\s*(\w+) = @\{", ps1, re.M)) - {"spec", "options"}
    spec = op_module.SPEC["options"]
    assert declared == set(spec) | set(spec["operations"]["options"])
