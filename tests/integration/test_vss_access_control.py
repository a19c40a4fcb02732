"""hyperv.backup.vss_access_control and the role hyperv.backup.vss_access_control through real ansible
processes against hvsim: the key of every node, names as data, each account's failure its own."""
import json

import pytest

from hvsim.testing import host_results, run_ansible
from tests.integration import modelkit
from tests.integration.modelkit import model, model_bytes, node

pytestmark = pytest.mark.integration

VEEAM = "LAB\\svc-veeam"
ODD = "LAB\\O'Brien $(Get-Date); `x` \u6570\u636e"


def build():
    hv01, hv02, hv03 = node("HV01"), node("HV02"), node("HV03")
    hv01["vss_access_control"] = {VEEAM.upper(): 0, "LAB\\old-backup": 1}   # denied, spelt in capitals
    hv02["vss_access_control"] = {"LAB\\svc-sql": 2}
    del hv03["vss_access_control"]                                           # no key at all
    data = model([hv01, hv02, hv03], [])
    data["accounts"] = {VEEAM: "S-1-5-21-1-2-3-1105", "LAB\\svc-sql": "S-1-5-21-1-2-3-1106", ODD: "S-1-5-21-1-2-3-1107"}
    return data


@pytest.fixture
def lab(lab_of):
    return lab_of(build())


def keys(lab):
    return {n["name"]: n.get("vss_access_control") for n in lab.read_model()["nodes"]}


def test_every_node_gets_the_account_a_deny_is_changed_and_said_then_nothing_changes(lab):
    rc, results = modelkit.adhoc(lab, "vss_access_control", json.dumps({"accounts": [VEEAM], "resolve": True}), "--diff")
    assert rc == 0, results
    assert keys(lab) == {"HV01": {VEEAM.upper(): 1, "LAB\\old-backup": 1}, "HV02": {"LAB\\svc-sql": 2, VEEAM: 1},
                         "HV03": {VEEAM: 1}}
    hv01 = results["HV01"]["accounts"][0]
    assert (hv01["value_name"], hv01["status"], hv01["was_denied"], hv01["before"], hv01["after"]) == \
        (VEEAM.upper(), "changed", True, 0, 1)
    assert hv01["msg"] == "was denied (0); now 1 (writer)" and hv01["sid"] == "S-1-5-21-1-2-3-1105"
    assert results["HV03"]["diff"] == {"before": {}, "after": {VEEAM: 1}}
    assert all(lab.round_trips()[(h, m)] == 1 for h in ("HV01", "HV02", "HV03") for m in ("host_facts", "vss_access_control"))
    lab.clear_journal()
    after = model_bytes(lab)
    rc, results = modelkit.adhoc(lab, "vss_access_control", json.dumps({"accounts": [VEEAM]}))
    assert rc == 0 and not any(r["changed"] for r in results.values())
    assert {module for _, module in lab.round_trips()} == {"host_facts"}   # no change: no second round trip
    assert model_bytes(lab) == after


def test_check_mode_predicts_exactly_and_changes_nothing(lab):
    untouched = model_bytes(lab)
    args = json.dumps({"accounts": [VEEAM, {"name": "LAB\\svc-sql", "access": "both"}], "exclusive": True})
    rc, predicted = modelkit.adhoc(lab, "vss_access_control", args, "--check", "--diff")
    assert rc == 0, predicted
    assert model_bytes(lab) == untouched
    assert {module for _, module in lab.round_trips()} == {"host_facts"}
    rc, real = modelkit.adhoc(lab, "vss_access_control", args, "--diff")
    assert rc == 0, real
    for host in ("HV01", "HV02", "HV03"):
        assert predicted[host]["diff"]["after"] == real[host]["diff"]["after"] == keys(lab)[host]
        assert [(a["name"], a["status"]) for a in predicted[host]["accounts"]] == \
            [(a["name"], a["status"]) for a in real[host]["accounts"]]
    assert keys(lab)["HV01"] == {VEEAM.upper(): 1, "LAB\\svc-sql": 3}


def test_an_account_that_does_not_resolve_or_cannot_be_written_fails_alone(lab):
    data = lab.read_model()
    data["faults"]["registry_writes"] = [{"node": "HV02", "name": VEEAM}]
    lab.write_model(data)
    rc, results = modelkit.adhoc(lab, "vss_access_control",
                                 json.dumps({"accounts": [VEEAM, "LAB\\nobody", "LAB\\svc-sql"], "resolve": True}))
    assert rc != 0
    for host, result in results.items():
        statuses = {a["name"]: a["status"] for a in result["accounts"]}
        assert statuses["LAB\\nobody"] == "failed"
        assert statuses[VEEAM] == ("failed" if host == "HV02" else "changed")
        assert statuses["LAB\\svc-sql"] == "changed"            # 2 (requester) becomes 3 on HV02
        assert result["failed"] is True and "LAB\\nobody: 'LAB\\nobody' does not resolve to a SID on" in result["msg"]
    assert "writing 'LAB\\svc-veeam' failed: Requested registry access is not allowed." in results["HV02"]["msg"]
    assert keys(lab)["HV02"] == {"LAB\\svc-sql": 3}               # requester access kept: 2 became 3
    assert "LAB\\nobody" not in keys(lab)["HV01"]


def test_account_names_are_data_and_reach_the_host_byte_for_byte(lab, tmp_path):
    playbook = tmp_path / "site.yml"
    playbook.write_text(
        "- hosts: hv\n  gather_facts: false\n  tasks:\n"
        "    - hyperv.backup.vss_access_control:\n"
        "        accounts:\n"
        "          - \"LAB\\\\O'Brien $(Get-Date); `x` \u6570\u636e\"\n"
        "        resolve: true\n", encoding="utf-8")
    rc, out = run_ansible(lab, "ansible-playbook", str(playbook))
    assert rc == 0, out
    assert {host: r["accounts"][0]["sid"] for host, r in host_results(out).items()} == \
        {h: "S-1-5-21-1-2-3-1107" for h in ("HV01", "HV02", "HV03")}
    sent = [e["args"] for e in lab.journal if e["module"] == "vss_access_control"]
    assert [a["operations"] for a in sent] == [[{"action": "set", "name": ODD, "value": 1}]] * 3
    assert [a["resolve"] for a in sent] == [[ODD]] * 3
    assert all(key[ODD] == 1 for key in keys(lab).values())


@pytest.mark.parametrize("args, message", [
    ({"accounts": ["svc-veeam"]}, "vss_access_control: accounts[0]: 'svc-veeam' has no domain part"),
    ({"accounts": ["LAB\\"]}, "has an empty user part"),
    ({"accounts": [" LAB\\svc"]}, "has leading or trailing whitespace"),
    ({"accounts": [{"name": VEEAM, "access": "full"}]}, "accounts[0].access: 'full' is not an access"),
    ({"accounts": [VEEAM], "exclusive": "yes please"}, "exclusive"),
    ({"accounts": [], "exclusive": True}, "exclusive: with no accounts listed it would remove every VssAccessControl value"),
])
def test_bad_input_fails_clearly_and_changes_nothing(lab, args, message):
    modelkit.fails_leaving_model_untouched(lab, "vss_access_control", json.dumps(args), message, hosts="hv")
    assert {module for _, module in lab.round_trips()} <= {"host_facts"}


def test_the_role_runs_on_every_node(lab, tmp_path):
    playbook = tmp_path / "role.yml"
    playbook.write_text(json.dumps([{"hosts": "hv", "gather_facts": False, "roles": [
        {"role": "hyperv.backup.vss_access_control",
         "vars": {"hyperv_vss_access_control_accounts": [VEEAM], "hyperv_vss_access_control_exclusive": True}}]}]))
    rc, out = run_ansible(lab, "ansible-playbook", str(playbook))
    assert rc == 0, out
    assert keys(lab) == {"HV01": {VEEAM.upper(): 1}, "HV02": {VEEAM: 1}, "HV03": {VEEAM: 1}}
    rc, out = run_ansible(lab, "ansible-playbook", str(playbook))
    assert rc == 0 and out["stats"]["HV01"]["changed"] == 0
