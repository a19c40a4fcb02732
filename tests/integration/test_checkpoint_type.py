"""hyperv.backup.checkpoint_type through real ansible processes against hvsim."""
import copy

import pytest

from hvsim.testing import run_ansible
from tests.integration import modelkit
from tests.integration.modelkit import model, model_bytes, node, vm

pytestmark = pytest.mark.integration

SQL01 = "d9e0eb0a-5b37-508e-9173-67e9ade83acf"


MODEL = model(
    [node("HV01"), node("HV02")],
    [
        vm("SQL01", SQL01, "HV01", checkpoint_type="Standard", automatic_checkpoints=True),
        vm("SQL02", "6f9619ff-8b86-d011-b42d-00c04fc964ff", "HV01"),
        vm("APP01", "0f8fad5b-d9cb-469f-a165-70867728950e", "HV01", state="Off", generation=1,
           checkpoint_type="Disabled"),
        vm("WEB01", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "HV02", state="Off", checkpoint_type="Standard",
           automatic_checkpoints=True),
    ],
)


@pytest.fixture
def lab(lab_of):
    return lab_of(copy.deepcopy(MODEL))


def settings(lab):
    return {v["name"]: (v["checkpoint_type"], v["automatic_checkpoints"]) for v in lab.read_model()["vms"]}


def adhoc(lab, module_args, *extra, hosts="hv"):
    return modelkit.adhoc(lab, "checkpoint_type", module_args, *extra, hosts=hosts)


def test_converge_then_rerun_changes_nothing(lab):
    rc, results = adhoc(lab, "checkpoint_type=Production automatic_checkpoints=false")
    assert rc == 0, results
    assert results["HV01"]["changed"] is True and results["HV02"]["changed"] is True
    assert {e["name"]: e["status"] for e in results["HV01"]["vms"]} == {"APP01": "changed", "SQL01": "changed",
                                                                        "SQL02": "ok"}
    assert set(settings(lab).values()) == {("Production", False)}
    # one round trip to read and one to apply per host, whatever the number of VMs
    assert lab.round_trips() == {("HV01", "host_facts"): 1, ("HV01", "checkpoint_type"): 1,
                                 ("HV02", "host_facts"): 1, ("HV02", "checkpoint_type"): 1}

    converged = model_bytes(lab)
    lab.clear_journal()
    rc, results = adhoc(lab, "checkpoint_type=Production automatic_checkpoints=false")
    assert rc == 0, results
    assert results["HV01"]["changed"] is False and results["HV02"]["changed"] is False
    assert results["HV01"]["counts"] == {"selected": 3, "changed": 0, "ok": 3, "pending": 0, "failed": 0}
    assert model_bytes(lab) == converged
    assert lab.round_trips() == {("HV01", "host_facts"): 1, ("HV02", "host_facts"): 1}


def test_check_mode_predicts_exactly_what_the_real_run_changes(lab):
    before = settings(lab)
    untouched = model_bytes(lab)
    rc, predicted = adhoc(lab, "checkpoint_type=ProductionOnly automatic_checkpoints=false", "--check", "--diff")
    assert rc == 0, predicted
    assert model_bytes(lab) == untouched
    assert ("HV01", "checkpoint_type") not in lab.round_trips()

    rc, actual = adhoc(lab, "checkpoint_type=ProductionOnly automatic_checkpoints=false", "--diff")
    assert rc == 0, actual
    for host in ("HV01", "HV02"):
        assert predicted[host]["vms"] == actual[host]["vms"]
        assert predicted[host]["diff"] == actual[host]["diff"]
        assert predicted[host]["changed"] == actual[host]["changed"]
    after = settings(lab)
    changed_in_model = {name for name in after if after[name] != before[name]}
    predicted_changes = {e["name"] for h in predicted.values() for e in h["vms"] if e["status"] == "changed"}
    assert changed_in_model == predicted_changes == {"SQL01", "SQL02", "APP01", "WEB01"}
    assert predicted["HV01"]["diff"]["after"]["SQL01"] == {"CheckpointType": "ProductionOnly",
                                                           "AutomaticCheckpointsEnabled": False}


@pytest.mark.parametrize("module_args, message", [
    ("checkpoint_type=Snapshot", "Snapshot"),
    ("checkpoint_type=Production vms=d9e0eb0a-5b37-508e-9173", "'d9e0eb0a-5b37-508e-9173' looks like a VM ID"),
    ("checkpoint_type=Production vms=NOPE01", "'NOPE01' matches no VM on HV01"),
    ("checkpoint_type=Production query='[?'", "is not a valid JMESPath expression"),
])
def test_bad_input_fails_clearly_and_leaves_the_model_untouched(lab, module_args, message):
    modelkit.fails_leaving_model_untouched(lab, "checkpoint_type", module_args, message)


def test_selection_by_query_pattern_id_and_exclude(lab):
    rc, results = adhoc(lab, '{"checkpoint_type": "Disabled", "vms": ["sql*", "{%s}"], "exclude": ["SQL02"]}'
                        % SQL01.upper(), hosts="HV01")
    assert rc == 0, results
    assert [e["name"] for e in results["HV01"]["vms"]] == ["SQL01"]
    assert settings(lab)["SQL01"][0] == "Disabled" and settings(lab)["SQL02"][0] == "Production"

    rc, results = adhoc(lab, '{"checkpoint_type": "Standard", "query": "[?State==\'Off\']"}', hosts="HV01")
    assert rc == 0, results
    assert [e["name"] for e in results["HV01"]["vms"]] == ["APP01"]
    assert settings(lab)["APP01"][0] == "Standard" and settings(lab)["SQL02"][0] == "Production"


def test_a_clustered_vm_of_another_node_is_left_to_that_node(lab):
    rc, results = adhoc(lab, '{"checkpoint_type": "Production", "vms": ["WEB01"]}')
    assert rc == 0, results
    assert results["HV01"]["vms"] == [] and results["HV01"]["elsewhere"] == [{"name": "WEB01", "node": "HV02"}]
    assert results["HV02"]["vms"][0]["status"] == "changed"


def test_automatic_checkpoints_on_an_old_host_are_left_alone_with_a_note(lab):
    data = lab.read_model()
    data["nodes"][1]["os_build"] = 14393
    lab.write_model(data)
    untouched = model_bytes(lab)
    rc, results = adhoc(lab, "automatic_checkpoints=false", hosts="HV02")
    assert rc == 0, results
    assert results["HV02"]["changed"] is False
    assert "HV02 (Windows build 14393) has no automatic checkpoints" in results["HV02"]["notes"][0]
    assert model_bytes(lab) == untouched
    rc, results = adhoc(lab, "checkpoint_type=Production", hosts="HV02")
    assert rc == 0, results
    assert settings(lab)["WEB01"][0] == "Production"


def test_the_role_converges_and_validates_its_variables(lab, tmp_path):
    playbook = tmp_path / "site.yml"
    playbook.write_text(
        "- hosts: hv\n  gather_facts: false\n  roles:\n"
        "    - role: hyperv.backup.checkpoint_policy\n"
        "      vars: {hyperv_checkpoint_policy_exclude: ['APP*']}\n")
    rc, out = run_ansible(lab, "ansible-playbook", str(playbook))
    assert rc == 0, out
    assert settings(lab)["APP01"] == ("Disabled", False)
    assert settings(lab)["SQL01"] == ("Production", False)
    converged = model_bytes(lab)
    rc, out = run_ansible(lab, "ansible-playbook", str(playbook))
    assert rc == 0, out
    assert all(s["changed"] == 0 for s in out["stats"].values())
    assert model_bytes(lab) == converged

    bad = tmp_path / "bad.yml"
    bad.write_text(
        "- hosts: hv\n  gather_facts: false\n  roles:\n"
        "    - role: hyperv.backup.checkpoint_policy\n"
        "      vars: {hyperv_checkpoint_policy_type: Snapshot}\n")
    rc, out = run_ansible(lab, "ansible-playbook", str(bad))
    assert rc != 0
    assert "Snapshot" in str(out)
    assert model_bytes(lab) == converged
