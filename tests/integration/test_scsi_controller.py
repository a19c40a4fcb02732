"""hyperv.backup.scsi_controller through real ansible processes against hvsim."""
import copy
import functools

import pytest

from hvsim.testing import run_ansible
from tests.integration import modelkit
from tests.integration.modelkit import model, model_bytes, node

pytestmark = pytest.mark.integration

# Generation 1 VMs booting from IDE, with no SCSI controller yet.
vm = functools.partial(modelkit.vm, scsi=0, controller="IDE", generation=1)

MODEL = model(
    [node("HV01"), node("HV02")],
    [
        vm("APP01", "0f8fad5b-d9cb-469f-a165-70867728950e", "HV01", state="Off", generation=1),
        vm("DB01", "6f9619ff-8b86-d011-b42d-00c04fc964ff", "HV01"),
        vm("DB02", "7c9e6679-7425-40de-944b-e07fc1f90ae7", "HV01", shutdown_seconds=20),
        vm("SLOW01", "16fd2706-8baf-433b-82eb-8c7fada847da", "HV01", honours=False),
        vm("FS01", "886313e1-3b8a-5372-9b90-0c9aee199e5d", "HV01", state="Saved"),
        vm("SQL01", "d9e0eb0a-5b37-508e-9173-67e9ade83acf", "HV01", scsi=1),
        vm("WEB01", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "HV02", state="Off"),
    ],
)


@pytest.fixture
def lab(lab_of):
    return lab_of(copy.deepcopy(MODEL))


def vms(lab):
    """name -> (state, scsi controllers); an unquoted Off reads back as False in YAML."""
    return {v["name"]: ("Off" if v["state"] is False else v["state"], v["scsi_controllers"])
            for v in lab.read_model()["vms"]}


def adhoc(lab, module_args, *extra, hosts="hv"):
    return modelkit.adhoc(lab, "scsi_controller", module_args, *extra, hosts=hosts)


def test_converge_then_rerun_changes_nothing_and_running_vms_stay_untouched(lab):
    before = vms(lab)
    rc, results = adhoc(lab, None)
    assert rc == 0, results
    hv01 = results["HV01"]
    assert {e["name"]: e["status"] for e in hv01["vms"]} == {
        "APP01": "changed", "DB01": "pending", "DB02": "pending", "FS01": "pending", "SLOW01": "pending",
        "SQL01": "ok"}
    assert [p["name"] for p in hv01["pending"]] == ["DB01", "DB02", "FS01", "SLOW01"]
    after = vms(lab)
    assert after["APP01"] == ("Off", 1) and after["WEB01"] == ("Off", 1)
    for name in ("DB01", "DB02", "FS01", "SLOW01", "SQL01"):
        assert after[name] == before[name]   # a running VM is never restarted without running_vms=restart
    assert lab.round_trips() == {("HV01", "host_facts"): 1, ("HV01", "scsi_controller"): 1,
                                 ("HV02", "host_facts"): 1, ("HV02", "scsi_controller"): 1}

    converged = model_bytes(lab)
    lab.clear_journal()
    rc, results = adhoc(lab, None)
    assert rc == 0, results
    assert results["HV01"]["changed"] is False and results["HV02"]["changed"] is False
    assert model_bytes(lab) == converged
    assert lab.round_trips() == {("HV01", "host_facts"): 1, ("HV02", "host_facts"): 1}


def test_check_mode_predicts_exactly_what_the_real_run_changes(lab):
    args = '{"count": 2, "running_vms": "restart", "max_restarts": 2, "exclude": ["SLOW01"]}'
    before = vms(lab)
    untouched = model_bytes(lab)
    rc, predicted = adhoc(lab, args, "--check", "--diff")
    assert rc == 0, predicted
    assert model_bytes(lab) == untouched
    assert {(n, m) for n, m in lab.round_trips()} == {("HV01", "host_facts"), ("HV02", "host_facts")}

    rc, actual = adhoc(lab, args, "--diff")
    assert rc == 0, actual
    after = vms(lab)
    changed_in_model = {name for name in after if after[name] != before[name]}
    predicted_changes = {e["name"] for h in predicted.values() for e in h["vms"] if e["status"] == "changed"}
    assert changed_in_model == predicted_changes == {"APP01", "DB01", "DB02", "WEB01"}
    for host in ("HV01", "HV02"):
        assert predicted[host]["diff"] == actual[host]["diff"]
        assert [(e["name"], e["status"], e["after"]) for e in predicted[host]["vms"]] == \
               [(e["name"], e["status"], e["after"]) for e in actual[host]["vms"]]
    restarted = {e["name"] for e in actual["HV01"]["vms"] if e.get("restarted")}
    assert restarted == {"DB01", "DB02"}
    assert after["DB01"] == ("Running", 2) and after["FS01"] == before["FS01"]


def test_restarts_one_vm_at_a_time_up_to_max_restarts_and_reports_a_guest_that_ignores_shutdown(lab):
    args = '{"running_vms": "restart", "max_restarts": 2, "shutdown_timeout": 10, "shutdown_grace": 5}'
    rc, results = adhoc(lab, args, hosts="HV01")
    assert rc == 0, results   # DB02 is not Off within 10 s + 5 s: a change with a warning, not a failure
    assert any("'DB02' was asked to shut down" in w for w in results["HV01"]["warnings"])
    entries = {e["name"]: e for e in results["HV01"]["vms"]}
    # by name: DB01 (restarted), DB02 (takes 20 s > 15 s), then max_restarts is reached for SLOW01
    assert entries["DB01"]["status"] == "changed" and entries["DB01"]["restarted"] is True
    assert entries["DB02"]["status"] == "changed" and entries["DB02"]["shutdown"] == "unfinished"
    assert "'DB02' was asked to shut down and is still Running after 10 s and 5 s of grace" in entries["DB02"]["msg"]
    assert entries["SLOW01"]["status"] == "pending" and "max_restarts reached (2)" in entries["SLOW01"]["msg"]
    assert entries["FS01"]["status"] == "pending" and "never restarted" in entries["FS01"]["msg"]
    assert entries["APP01"]["status"] == "changed"
    state = vms(lab)
    assert state["DB01"] == ("Running", 1) and state["APP01"] == ("Off", 1)
    assert state["SLOW01"] == ("Running", 0) and state["FS01"] == ("Saved", 0)
    assert results["HV01"]["counts"]["shutdown_unfinished"] == 1 and results["HV01"]["changed"] is True


@pytest.mark.parametrize("module_args, message", [
    ('{"count": 5}', "count: 5 is out of range"),
    ('{"running_vms": "force"}', "force"),
    ('{"vms": ["NOPE01"]}', "'NOPE01' matches no VM on HV01"),
    ('{"vms": ["{d9e0eb0a-5b37}"]}', "looks like a VM ID"),
    ('{"running_vms": "fail"}', "DB01 (Running), DB02 (Running), FS01 (Saved), SLOW01 (Running)"),
])
def test_bad_input_fails_clearly_and_leaves_the_model_untouched(lab, module_args, message):
    modelkit.fails_leaving_model_untouched(lab, "scsi_controller", module_args, message)
    assert ("HV01", "scsi_controller") not in lab.round_trips()


def test_the_role_converges_without_restarting(lab, tmp_path):
    playbook = tmp_path / "site.yml"
    playbook.write_text("- hosts: hv\n  gather_facts: false\n  roles:\n    - hyperv.backup.scsi_controllers\n")
    before = vms(lab)
    rc, out = run_ansible(lab, "ansible-playbook", str(playbook), "--check")
    assert rc == 0, out
    assert vms(lab) == before
    rc, out = run_ansible(lab, "ansible-playbook", str(playbook))
    assert rc == 0, out
    after = vms(lab)
    assert after["APP01"] == ("Off", 1) and after["DB01"] == before["DB01"]
    converged = model_bytes(lab)
    rc, out = run_ansible(lab, "ansible-playbook", str(playbook))
    assert rc == 0, out
    assert out["stats"]["HV01"]["changed"] == 0
    assert model_bytes(lab) == converged

    bad = tmp_path / "bad.yml"
    bad.write_text("- hosts: hv\n  gather_facts: false\n  roles:\n    - role: hyperv.backup.scsi_controllers\n"
                   "      vars: {hyperv_scsi_controllers_running_vms: reboot}\n")
    rc, out = run_ansible(lab, "ansible-playbook", str(bad))
    assert rc != 0 and "reboot" in str(out)
    assert model_bytes(lab) == converged
