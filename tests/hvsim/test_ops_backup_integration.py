"""hvsim's backup_integration: the service found by its ID whatever its localized name, the states in which it
can be changed, the read-back, the module's arguments and results."""
import copy

import pytest

from hvsim import ops, world
from hvsim.model import ModelError, load_file, validate
from hvsim.testing import model_path

SQL01 = "d9e0eb0a-5b37-508e-9173-67e9ade83acf"   # HV01, Running
WEB01 = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"   # HV02, Off

ops.load_all()


@pytest.fixture
def data():
    loaded = load_file(model_path("minimal"))
    vm(loaded, SQL01)["backup_integration"] = {"enabled": False, "status": "OK"}
    return loaded


def run(data, node, operations, check_mode=False):
    return ops.run("backup_integration", node, data, {"operations": operations, "_ansible_check_mode": check_mode})


def vm(data, vm_id):
    return next(v for v in data["vms"] if v["id"] == vm_id)


def test_enables_and_reads_back(data):
    result = run(data, "HV01", [{"id": SQL01, "name": "SQL01", "enabled": True}])
    assert result["changed"] is True
    assert result["vms"] == [{"id": SQL01, "name": "SQL01", "status": "changed", "before": {"Enabled": False},
                              "after": {"Enabled": True}, "guest_status": "OK"}]
    assert vm(data, SQL01)["backup_integration"] == {"enabled": True, "status": "OK"}


def test_disables_an_off_vm(data):
    result = run(data, "HV02", [{"id": WEB01, "name": "WEB01", "enabled": False}])
    assert result["vms"][0]["status"] == "changed" and vm(data, WEB01)["backup_integration"]["enabled"] is False


def test_already_so_is_ok_and_unchanged(data):
    before = copy.deepcopy(data)
    result = run(data, "HV02", [{"id": WEB01.upper(), "name": "WEB01", "enabled": True}])
    assert result["changed"] is False and result["vms"][0]["status"] == "ok"
    assert data == before


def test_check_mode_reports_and_changes_nothing(data):
    before = copy.deepcopy(data)
    result = run(data, "HV01", [{"id": SQL01, "name": "SQL01", "enabled": True}], check_mode=True)
    assert result["changed"] is True and result["vms"][0]["after"] == {"Enabled": True}
    assert data == before


@pytest.mark.parametrize("language, name", [("de-DE", "Sicherung (Volumeschattenkopie)"),
                                            ("ja-JP", "バックアップ (ボリューム シャドウ コピー)")])
def test_a_localized_name_makes_no_difference(data, language, name):
    data["nodes"][0]["display_language"] = language
    validate(data)
    listed = world.integration_services(data["nodes"][0], vm(data, SQL01))
    assert name in [s["Name"] for s in listed] and "VSS" not in [s["Name"] for s in listed]
    result = run(data, "HV01", [{"id": SQL01, "name": "SQL01", "enabled": True}])
    assert result["vms"][0]["status"] == "changed" and vm(data, SQL01)["backup_integration"]["enabled"] is True


def test_the_service_is_found_by_its_id_not_by_a_name():
    services = [{"Name": "VSS", "Id": "Microsoft:X\\2497F4DE-E9FA-4204-80E4-4B75C46419C0"},
                {"Name": "Zeitsynchronisierung", "Id": "Microsoft:X\\5ced1297-4598-4915-a5fc-ad21bb4d02a4"}]
    assert world.find_integration_service(services, world.VSS_INTEGRATION_COMPONENT)["Name"] == "Zeitsynchronisierung"


@pytest.mark.parametrize("state", ["Saved", "Paused", "Starting"])
def test_a_vm_neither_off_nor_running_is_refused(data, state):
    vm(data, SQL01)["state"] = state
    before = copy.deepcopy(data)
    result = run(data, "HV01", [{"id": SQL01, "name": "SQL01", "enabled": True}])
    item = result["vms"][0]
    assert item["status"] == "failed" and item["after"] == {"Enabled": False}
    assert item["error"] == ("enabling the Backup integration service of 'SQL01' failed: The operation cannot be "
                             f"performed while the virtual machine 'SQL01' is in its current state ({state}).")
    assert data == before


def test_a_vm_in_a_critical_state_cannot_be_read(data):
    vm(data, SQL01)["state"] = "OffCritical"
    result = run(data, "HV01", [{"id": SQL01, "name": "SQL01", "enabled": True}])
    assert result["vms"][0]["status"] == "failed"
    assert result["vms"][0]["error"].startswith("reading the integration services of 'SQL01' failed: The virtual "
                                                "machine 'SQL01' is in a critical state")


def test_a_vm_without_the_service_fails_naming_the_component(data):
    vm(data, SQL01)["backup_integration"] = None
    validate(data)
    result = run(data, "HV01", [{"id": SQL01, "name": "SQL01", "enabled": True}])
    assert result["vms"][0] == {"id": SQL01, "name": "SQL01", "status": "failed",
                                "error": "'SQL01' has no Backup (volume shadow copy) integration service (integration "
                                         "component 5CED1297-4598-4915-A5FC-AD21BB4D02A4)"}


def test_a_change_that_did_not_take_fails_on_the_read_back(data):
    data["faults"]["cmdlets"] = [{"cmdlet": "Enable-VMIntegrationService", "ignore": True}]
    result = run(data, "HV01", [{"id": SQL01, "name": "SQL01", "enabled": True}])
    item = result["vms"][0]
    assert item["status"] == "failed" and item["after"] == {"Enabled": False} and result["changed"] is True
    assert item["error"] == ("Enable-VMIntegrationService returned without an error, but the Backup integration "
                             "service of 'SQL01' is still disabled")


def test_a_failing_vm_does_not_stop_the_others(data):
    data["faults"]["cmdlets"] = [{"cmdlet": "Get-VMIntegrationService", "vm": "SQL01", "message": "busy"}]
    vm(data, WEB01)["node"] = "HV01"
    vm(data, WEB01)["backup_integration"]["enabled"] = False
    result = run(data, "HV01", [{"id": SQL01, "name": "SQL01", "enabled": True},
                                {"id": "nope", "name": "X", "enabled": True},
                                {"id": WEB01, "name": "WEB01", "enabled": True}])
    assert [(i["status"], i.get("error", "")) for i in result["vms"]] == [
        ("failed", "reading the integration services of 'SQL01' failed: busy"),
        ("failed", "'nope' is not a VM ID (a GUID)"),
        ("changed", "")]
    assert "failed" not in result


def test_the_model_checks_the_new_keys(data):
    data["nodes"][0]["display_language"] = "fr-FR"
    with pytest.raises(ModelError, match="display_language must be one of en-US, de-DE, ja-JP, got 'fr-FR'"):
        validate(data)
    data["nodes"][0]["display_language"] = "de-DE"
    vm(data, SQL01)["backup_integration"] = "on"
    with pytest.raises(ModelError, match="VM 'SQL01': backup_integration must be a mapping"):
        validate(data)
