"""Compliant checkpoint types are left alone, old VMs and old hosts are refused before anything is sent,
and the checkpoint_policy role runs on Windows Server 2016 hosts: through real ansible against hvsim."""
import copy
import json
import os
import re
import shlex

import pytest

from hvsim.testing import REPO_ROOT, host_results, run_ansible
from tests.integration import modelkit
from tests.integration.modelkit import model, model_bytes, node, vm

pytestmark = pytest.mark.integration

ONLY01 = "5d6e2a3c-0001-4b1a-8a7e-000000000001"
STD01 = "5d6e2a3c-0002-4b1a-8a7e-000000000002"
OLD01 = "5d6e2a3c-0003-4b1a-8a7e-000000000003"
WEB16 = "5d6e2a3c-0004-4b1a-8a7e-000000000004"

MODEL = model(
    [node("HV01"), node("HV02", os_build=14393)],   # HV02 runs Windows Server 2016: no automatic checkpoints
    [
        vm("ONLY01", ONLY01, "HV01", checkpoint_type="ProductionOnly", automatic_checkpoints=True),
        vm("STD01", STD01, "HV01", checkpoint_type="Standard"),
        vm("OLD01", OLD01, "HV01", checkpoint_type="Standard", version="5.0", state="Off"),
        vm("WEB16", WEB16, "HV02", checkpoint_type="Standard", version="8.0"),
    ],
)


@pytest.fixture
def lab(lab_of):
    return lab_of(copy.deepcopy(MODEL))


def types(lab):
    return {v["name"]: v["checkpoint_type"] for v in lab.read_model()["vms"]}


def sent(lab, module="checkpoint_type"):
    return [op for entry in lab.journal if entry["module"] == module for op in entry["args"]["operations"]]


def test_production_does_not_downgrade_production_only_and_old_vms_are_pending(lab):
    rc, results = modelkit.adhoc(lab, "checkpoint_type", "checkpoint_type=Production", "--diff", hosts="HV01")
    assert rc == 0, results
    result = results["HV01"]
    assert {e["name"]: e["status"] for e in result["vms"]} == {"ONLY01": "ok", "STD01": "changed", "OLD01": "pending"}
    [old] = [e for e in result["vms"] if e["name"] == "OLD01"]
    assert "configuration version 5.0" in old["msg"] and "Update-VMVersion" in old["msg"]
    assert result["pending"] == [{"id": OLD01, "name": "OLD01", "reason": old["msg"]}]
    assert result["counts"] == {"selected": 3, "changed": 1, "ok": 1, "pending": 1, "failed": 0}
    assert set(result["diff"]["after"]) == {"STD01"}
    # nothing was sent for the compliant VM nor for the VM too old for Production checkpoints
    assert [op["name"] for op in sent(lab)] == ["STD01"]
    assert types(lab) == {"ONLY01": "ProductionOnly", "STD01": "Production", "OLD01": "Standard", "WEB16": "Standard"}


def test_compliant_types_say_otherwise_when_asked(lab):
    args = json.dumps({"checkpoint_type": "Production", "compliant_types": ["Production"], "vms": ["ONLY01"]})
    rc, results = modelkit.adhoc(lab, "checkpoint_type", args, hosts="HV01")
    assert rc == 0, results
    assert types(lab)["ONLY01"] == "Production"


@pytest.mark.parametrize("args, message", [
    ({"checkpoint_type": "Production", "compliant_types": ["ProductionOnly"]}, "does not include checkpoint_type Production"),
    ({"automatic_checkpoints": False, "compliant_types": ["Production"]}, "give checkpoint_type too"),
    ({"checkpoint_type": "Production", "compliant_types": ["Snapshot"]}, "Snapshot"),
])
def test_bad_compliant_types_fail_before_anything_is_read_or_changed(lab, args, message):
    modelkit.fails_leaving_model_untouched(lab, "checkpoint_type", json.dumps(args), message)
    assert ("HV01", "checkpoint_type") not in lab.round_trips()


def role_playbook(tmp_path, **variables):
    playbook = tmp_path / "site.yml"
    playbook.write_text(json.dumps([{"hosts": "hv", "gather_facts": False, "roles": [
        {"role": "hyperv.backup.checkpoint_policy", "vars": variables}]}]))
    return playbook


def test_the_role_runs_on_a_2016_host_with_a_note_and_converges(lab, tmp_path):
    rc, out = run_ansible(lab, "ansible-playbook", str(role_playbook(tmp_path)))
    assert rc == 0, out
    [policy_task, notes_task] = out["plays"][0]["tasks"][-2:]
    hv02 = policy_task["hosts"]["HV02"]
    assert not hv02.get("failed") and hv02["changed"] is True
    [note] = hv02["notes"]
    assert note.startswith("automatic_checkpoints: HV02 (Windows build 14393) has no automatic checkpoints")
    assert policy_task["hosts"]["HV01"]["notes"] == []
    assert notes_task["hosts"]["HV02"]["msg"] == [note] and notes_task["hosts"]["HV01"].get("skipped")
    model = {v["name"]: v for v in lab.read_model()["vms"]}
    assert model["WEB16"]["checkpoint_type"] == "Production"
    assert model["ONLY01"]["checkpoint_type"] == "ProductionOnly"            # not downgraded
    assert model["ONLY01"]["automatic_checkpoints"] is False                 # the 2019+ host's VMs are fixed
    assert ("HV02", "checkpoint_type") in lab.round_trips()
    assert all("automatic_checkpoints" not in op for entry in lab.journal
               if entry["node"] == "HV02" and entry["module"] == "checkpoint_type"
               for op in entry["args"]["operations"])

    converged = model_bytes(lab)
    rc, out = run_ansible(lab, "ansible-playbook", str(role_playbook(tmp_path)))
    assert rc == 0, out
    assert all(s["changed"] == 0 for s in out["stats"].values())
    assert model_bytes(lab) == converged


def test_the_role_accepts_null_automatic_checkpoints_and_its_compliant_types(lab, tmp_path):
    playbook = role_playbook(tmp_path, hyperv_checkpoint_policy_automatic=None,
                             hyperv_checkpoint_policy_compliant_types=["Production"],
                             hyperv_checkpoint_policy_vms=["ONLY01"])
    rc, out = run_ansible(lab, "ansible-playbook", str(playbook), "--limit", "HV01")
    assert rc == 0, out
    model = {v["name"]: v for v in lab.read_model()["vms"]}
    assert model["ONLY01"]["checkpoint_type"] == "Production"
    assert model["ONLY01"]["automatic_checkpoints"] is True                  # null leaves them

    playbook = role_playbook(tmp_path, hyperv_checkpoint_policy_compliant_types="Production")
    rc, out = run_ansible(lab, "ansible-playbook", str(playbook), "--limit", "HV01")
    assert rc == 0, out   # a single type is a one-element list, as for every list option


def readme_adhoc_commands():
    with open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8") as fh:
        text = fh.read()
    return [shlex.split(line)[1:] for line in re.findall(r"^ansible hv -m hyperv\.backup\.\S+ .*$", text, re.M)]


def test_the_readme_examples_run_against_the_demo_and_downgrade_nothing(lab_of):
    commands = readme_adhoc_commands()
    assert len(commands) >= 2
    demo = lab_of("demo")
    before = {v["id"]: v for v in demo.read_model()["vms"]}
    for command in commands:
        rc, out = run_ansible(demo, *[arg for arg in command if arg != "--check"])
        assert rc == 0, (command, out)
        assert not [r for r in host_results(out).values() if r.get("failed")], command
    after = {v["id"]: v for v in demo.read_model()["vms"]}
    strict = [before[i]["name"] for i in before if before[i]["checkpoint_type"] == "ProductionOnly"]
    assert strict, "the demo cluster has a ProductionOnly VM to prove this with"
    assert all(after[i]["checkpoint_type"] == "ProductionOnly" for i in before if before[i]["name"] in strict)
