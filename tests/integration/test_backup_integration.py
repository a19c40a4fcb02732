"""hyperv.backup.backup_integration through real ansible processes against hvsim."""
import copy
import json

import pytest

from hvsim.testing import host_results, run_ansible
from tests.integration import modelkit
from tests.integration.modelkit import model, model_bytes, node, vm

pytestmark = pytest.mark.integration

IDS = {
    "APP02": "47d4effa-a48f-58d4-bfa6-cd3d9bdd08f7",
    "SQL01": "d9e0eb0a-5b37-508e-9173-67e9ade83acf",
    "OLD01": "0f8fad5b-d9cb-469f-a165-70867728950e",
    "SAVED01": "6f9619ff-8b86-d011-b42d-00c04fc964ff",
    "LINUX01": "a1f1c7a0-0007-4c1a-9a7e-000000000007",
    "WEB01": "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
}


def service(enabled, status="OK"):
    return {"enabled": enabled, "status": status}


MODEL = model(
    [dict(node("HV01"), display_language="de-DE"), dict(node("HV02"), display_language="ja-JP")],
    [
        vm("APP02", IDS["APP02"], "HV01", backup_integration=service(False)),
        vm("SQL01", IDS["SQL01"], "HV01"),
        vm("OLD01", IDS["OLD01"], "HV01", state="Off", backup_integration=service(False, None)),
        vm("SAVED01", IDS["SAVED01"], "HV01", state="Saved", backup_integration=service(False)),
        vm("LINUX01", IDS["LINUX01"], "HV01", backup_integration=service(True, "No Contact")),
        vm("WEB01", IDS["WEB01"], "HV02", backup_integration=service(False)),
    ],
)


@pytest.fixture
def lab(lab_of):
    return lab_of(copy.deepcopy(MODEL))


def adhoc(lab, module_args, *extra, hosts="hv"):
    return modelkit.adhoc(lab, "backup_integration", module_args, *extra, hosts=hosts)


def enabled(lab):
    return {v["name"]: v["backup_integration"]["enabled"] for v in lab.read_model()["vms"]}


def statuses(result):
    return {entry["name"]: entry["status"] for entry in result["vms"]}


def test_converge_on_localized_hosts_then_rerun_changes_nothing(lab):
    rc, results = adhoc(lab, "")
    assert rc == 0, results
    assert statuses(results["HV01"]) == {"APP02": "changed", "LINUX01": "ok", "OLD01": "changed",
                                         "SAVED01": "pending", "SQL01": "ok"}
    assert statuses(results["HV02"]) == {"WEB01": "changed"}
    # German (HV01) and Japanese (HV02) names: found by the ID all the same
    assert enabled(lab) == {"APP02": True, "SQL01": True, "OLD01": True, "SAVED01": False, "LINUX01": True,
                            "WEB01": True}
    assert lab.round_trips() == {("HV01", "host_facts"): 1, ("HV01", "backup_integration"): 1,
                                 ("HV02", "host_facts"): 1, ("HV02", "backup_integration"): 1}
    assert results["HV01"]["pending"] == [{"id": IDS["SAVED01"], "name": "SAVED01", "reason": (
        "Saved: its integration services are changed only while the VM is Off or Running; start it (or turn it "
        "off) and run the task again")}]
    [note] = results["HV01"]["notes"]
    assert note.startswith(f"LINUX01 ({IDS['LINUX01']}): the host offers") and "No Contact" in note

    converged = model_bytes(lab)
    lab.clear_journal()
    rc, results = adhoc(lab, "")
    assert rc == 0, results
    assert results["HV01"]["changed"] is False and results["HV02"]["changed"] is False
    assert results["HV01"]["counts"] == {"selected": 5, "changed": 0, "ok": 4, "pending": 1, "failed": 0}
    assert model_bytes(lab) == converged
    assert lab.round_trips() == {("HV01", "host_facts"): 1, ("HV02", "host_facts"): 1}


def test_check_mode_predicts_exactly_what_the_real_run_changes(lab):
    before = enabled(lab)
    untouched = model_bytes(lab)
    rc, predicted = adhoc(lab, "", "--check", "--diff")
    assert rc == 0, predicted
    assert model_bytes(lab) == untouched
    assert not any(module == "backup_integration" for _, module in lab.round_trips())

    rc, actual = adhoc(lab, "", "--diff")
    assert rc == 0, actual
    for host in ("HV01", "HV02"):
        for key in ("vms", "diff", "changed", "counts", "pending"):
            assert predicted[host][key] == actual[host][key], (host, key)
    after = enabled(lab)
    changed_in_model = {name for name in after if after[name] != before[name]}
    predicted_changes = {e["name"] for h in predicted.values() for e in h["vms"] if e["status"] == "changed"}
    assert changed_in_model == predicted_changes == {"APP02", "OLD01", "WEB01"}
    assert predicted["HV02"]["diff"] == {"before": {"WEB01": {"Enabled": False}}, "after": {"WEB01": {"Enabled": True}}}


def test_state_disabled_turns_it_off(lab):
    rc, results = adhoc(lab, "state=disabled vms=SQL01,LINUX01", hosts="HV01")
    assert rc == 0, results
    assert statuses(results["HV01"]) == {"LINUX01": "changed", "SQL01": "changed"}
    assert enabled(lab)["SQL01"] is False and enabled(lab)["LINUX01"] is False and enabled(lab)["APP02"] is False


@pytest.mark.parametrize("module_args, message", [
    ("vms=NOPE01", "'NOPE01' matches no VM on HV01"),
    ("vms=d9e0eb0a-5b37-508e-9173", "'d9e0eb0a-5b37-508e-9173' looks like a VM ID"),
    ("state=on", "state"),
    ("query='[?'", "is not a valid JMESPath expression"),
    (json.dumps({"vms": ["APP\u000702"]}), "control character U+0007"),
])
def test_bad_input_fails_clearly_and_leaves_the_model_untouched(lab, module_args, message):
    modelkit.fails_leaving_model_untouched(lab, "backup_integration", module_args, message)
    assert not any(module == "backup_integration" for _, module in lab.round_trips())


def test_a_vm_that_fails_on_the_host_fails_the_task_and_the_others_are_applied(lab):
    data = lab.read_model()
    data["faults"]["cmdlets"] = [{"cmdlet": "Enable-VMIntegrationService", "vm": "APP02",
                                  "message": "The virtual machine is locked by another operation."}]
    lab.write_model(data)
    rc, results = adhoc(lab, "", hosts="HV01")
    assert rc != 0
    result = results["HV01"]
    assert statuses(result)["APP02"] == "failed" and statuses(result)["OLD01"] == "changed"
    assert result["msg"] == ("backup_integration: 1 of 5 VM(s) failed, the others were applied: APP02: enabling the "
                             "Backup integration service of 'APP02' failed: The virtual machine is locked by another "
                             "operation.")
    assert enabled(lab)["APP02"] is False and enabled(lab)["OLD01"] is True


def test_a_service_the_host_could_not_read_is_pending(lab):
    data = lab.read_model()
    data["faults"]["cmdlets"] = [{"cmdlet": "Get-VMIntegrationService", "module": "host_facts", "vm": "APP02",
                                  "message": "The operation timed out."}]
    lab.write_model(data)
    rc, results = adhoc(lab, "vms=APP02", hosts="HV01")
    assert rc == 0, results
    result = results["HV01"]
    assert statuses(result) == {"APP02": "pending"}
    assert "could not be read on this node" in result["pending"][0]["reason"]
    assert any("BackupIntegration (Get-VMIntegrationService: The operation timed out.)" in w for w in result["warnings"])
    assert enabled(lab)["APP02"] is False


NAMES = {
    "O'Brien $(test); x": "a1f1c7a0-0001-4c1a-9a7e-000000000001",
    "tick`s `$(Get-Date) `\"q\"": "a1f1c7a0-0002-4c1a-9a7e-000000000002",
    "\u00dcn\u00efc\u00f6d\u00e9-VM": "a1f1c7a0-0003-4c1a-9a7e-000000000003",
    "\u6570\u636e\u5e93": "a1f1c7a0-0004-4c1a-9a7e-000000000004",
}


def test_names_with_quotes_dollar_backticks_and_non_ascii_arrive_as_data(lab_of, tmp_path):
    lab = lab_of(model([node("HV01")], [vm(name, vm_id, "HV01", backup_integration=service(False))
                                        for name, vm_id in NAMES.items()]
                       + [vm("O'Brien", "a1f1c7a0-0006-4c1a-9a7e-000000000006", "HV01",
                             backup_integration=service(False))]))
    playbook = tmp_path / "site.yml"
    playbook.write_text(
        "- hosts: hv\n  gather_facts: false\n  tasks:\n"
        "    - hyperv.backup.backup_integration:\n"
        "        vms:\n"
        "          - \"O'Brien $(test); x\"\n"
        "          - 'tick`s `$(Get-Date) `\"q\"'\n"
        "          - \u00dcn\u00efc\u00f6d\u00e9-VM\n"
        "          - \u6570\u636e\u5e93\n", encoding="utf-8")
    rc, out = run_ansible(lab, "ansible-playbook", str(playbook))
    assert rc == 0, out
    result = host_results(out)["HV01"]
    assert {e["name"]: e["status"] for e in result["vms"]} == {name: "changed" for name in NAMES}
    [run] = [entry for entry in lab.journal if entry["module"] == "backup_integration"]
    assert sorted((op["name"], op["id"]) for op in run["args"]["operations"]) == sorted(NAMES.items())
    states = {v["name"]: v["backup_integration"]["enabled"] for v in lab.read_model()["vms"]}
    assert states == {**{name: True for name in NAMES}, "O'Brien": False}
