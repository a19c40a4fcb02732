"""The model file: validation, atomic saves in the file's own format, reload on change, locking."""
import json
import re
import os
import threading

import pytest
import yaml

from hvsim.model import Model, ModelError, load_file
from hvsim.testing import model_path

MINIMAL = model_path("minimal")


def minimal():
    with open(MINIMAL, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def write(path, data, fmt="yaml"):
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(data) if fmt == "json" else yaml.safe_dump(data, sort_keys=False))
    return str(path)


def test_minimal_model_is_valid():
    data = load_file(MINIMAL)
    assert [n["name"] for n in data["nodes"]] == ["HV01", "HV02"] and len(data["vms"]) == 2


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.pop("nodes"), "'nodes' must be a non-empty list"),
    (lambda d: d.update(nodes=[]), "'nodes' must be a non-empty list"),
    (lambda d: d["nodes"].append({"name": "hv01"}), "duplicate node name 'hv01'"),
    (lambda d: d["vms"][0].update(node="HV09"), "VM 'SQL01' is on unknown node 'HV09'"),
    (lambda d: d["vms"][1].update(id=d["vms"][0]["id"].upper()), "duplicate VM id"),
    (lambda d: d["vms"][0].pop("id"), "vms[0] needs a string 'id'"),
    (lambda d: d.pop("credentials"), "'credentials' must be a mapping"),
    (lambda d: d.update(faults={"fail_every": 2}), "unknown fault knob 'fail_every'"),
    (lambda d: d.update(faults={"fail_nth": -1}), "faults.fail_nth must be an integer >= 0"),
    (lambda d: d.update(faults={"module_run_ms": -5}), "faults.module_run_ms must be an integer >= 0, got -5"),
    (lambda d: d.update(faults={"module_run_ms": "1000"}), "faults.module_run_ms must be an integer >= 0, got '1000'"),
    (lambda d: d.update(faults={"module_run_ms": True}), "faults.module_run_ms must be an integer >= 0, got True"),
    (lambda d: d.update(faults={"module_run_ms": 1.5}), "faults.module_run_ms must be an integer >= 0, got 1.5"),
    (lambda d: d.update(faults={"cmdlets": {"cmdlet": "Get-VM"}}), "faults.cmdlets must be a list of mappings"),
    (lambda d: d.update(faults={"cmdlets": [{"vm": "SQL01"}]}), "faults.cmdlets[0] needs a 'cmdlet'"),
    (lambda d: d.update(faults={"cmdlets": [{"cmdlet": "Get-VM", "when": 1}]}), "faults.cmdlets[0]: unknown key 'when'"),
    (lambda d: d.update(faults={"cmdlets": [{"cmdlet": "Get-VM", "after": -1}]}),
     "faults.cmdlets[0].after must be an integer >= 0"),
    (lambda d: d.update(faults={"cmdlets": [{"cmdlet": "Set-VM", "ignore": "yes"}]}),
     "faults.cmdlets[0].ignore must be a bool"),
    (lambda d: d.update(faults={"cmdlets": [{"cmdlet": "Set-VM", "property": "Version"}]}),
     "'property' (a property that throws when read) applies to Get-VM only"),
    (lambda d: d.update(faults={"vanishing_vms": "SQL01"}), "faults.vanishing_vms must be a list of VM names or IDs"),
])
def test_validation_names_the_bad_value(tmp_path, mutate, message):
    data = minimal()
    mutate(data)
    path = write(tmp_path / "m.yml", data)
    with pytest.raises(ModelError, match=re.escape(message)):
        Model(path)


def test_unparsable_and_missing(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text("nodes: [unclosed\n")
    with pytest.raises(ModelError, match="cannot parse the model as YAML"):
        Model(str(path))
    with pytest.raises(ModelError, match="does not exist"):
        Model(str(tmp_path / "absent.yml"))


def test_save_only_when_marked_and_atomically(tmp_path):
    path = write(tmp_path / "m.yml", minimal())
    model = Model(path)
    inode = os.stat(path).st_ino
    with model.transaction() as data:
        data["nodes"][0]["fqdn"] = "changed.but.not.marked"
    assert "changed.but.not.marked" not in open(path).read()
    with model.transaction() as data:
        data["nodes"][0]["fqdn"] = "hv01.saved.example"
        model.mark_changed()
    text = open(path).read()
    assert "hv01.saved.example" in text
    assert os.stat(path).st_ino != inode  # replaced, not rewritten in place
    assert text.index("credentials") < text.index("nodes") < text.index("vms")  # key order kept
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_json_stays_json(tmp_path):
    path = write(tmp_path / "m.json", minimal(), fmt="json")
    model = Model(path)
    with model.transaction() as data:
        data["nodes"][1]["state"] = "Paused"
        model.mark_changed()
    assert json.load(open(path))["nodes"][1]["state"] == "Paused"


def test_json_text_in_a_yml_file_stays_json(tmp_path):
    path = write(tmp_path / "model.yml", minimal(), fmt="json")
    model = Model(path)
    with model.transaction():
        model.mark_changed()
    assert json.load(open(path))["nodes"][0]["name"] == "HV01"


def test_reload_when_the_file_changes(tmp_path):
    path = write(tmp_path / "m.yml", minimal())
    model = Model(path)
    assert model.read()["nodes"][0]["state"] == "Up"
    data = minimal()
    data["nodes"][0]["state"] = "Down"
    write(path, data)
    assert model.read()["nodes"][0]["state"] == "Down"


def test_invalid_save_is_refused_and_file_kept(tmp_path):
    path = write(tmp_path / "m.yml", minimal())
    model = Model(path)
    before = open(path).read()
    with pytest.raises(ModelError, match="unknown node"):
        with model.transaction() as data:
            data["vms"][0]["node"] = "HV77"
            model.mark_changed()
    assert open(path).read() == before
    assert model.read()["vms"][0]["node"] == "HV01"


def test_exception_in_transaction_discards_changes(tmp_path):
    path = write(tmp_path / "m.yml", minimal())
    model = Model(path)
    with pytest.raises(KeyError):
        with model.transaction() as data:
            data["nodes"][0]["state"] = "Down"
            raise KeyError("x")
    assert model.read()["nodes"][0]["state"] == "Up"


def test_concurrent_transactions_do_not_lose_updates(tmp_path):
    path = write(tmp_path / "m.yml", minimal())
    models = [Model(path), Model(path)]  # two objects on one file share the lock

    def bump(model):
        for _ in range(25):
            with model.transaction() as data:
                data["nodes"][0]["n"] = data["nodes"][0].get("n", 0) + 1
                model.mark_changed()

    threads = [threading.Thread(target=bump, args=(models[i % 2],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert load_file(path)["nodes"][0]["n"] == 100


def test_faults_defaults(tmp_path):
    data = minimal()
    data.pop("faults")
    model = Model(write(tmp_path / "m.yml", data))
    assert model.faults() == {"latency_ms": 0, "module_run_ms": 0, "fail_nth": 0, "drop_nth": 0}


def test_two_vms_may_share_a_name_but_not_an_id(tmp_path):
    """Hyper-V allows two VMs of the same name; they are told apart by ID."""
    data = minimal()
    twin = dict(data["vms"][0], id="22222222-2222-4222-8222-222222222222", name=data["vms"][0]["name"].lower())
    data["vms"].append(twin)
    model = Model(write(tmp_path / "m.yml", data))
    names = [vm["name"].lower() for vm in model.read()["vms"]]
    assert names.count(twin["name"]) == 2


def test_structured_faults_are_accepted_and_kept_out_of_the_knobs(tmp_path):
    data = minimal()
    data["faults"] = {"fail_nth": 0, "vanishing_vms": ["SQL01"],
                      "cmdlets": [{"cmdlet": "Add-VMScsiController", "node": "HV01", "vm": "SQL01", "after": 1,
                                   "times": 2, "message": "boom"},
                                  {"cmdlet": "Set-VM", "ignore": True},
                                  {"cmdlet": "Get-VM", "property": "Version"}]}
    model = Model(write(tmp_path / "m.yml", data))
    assert model.faults() == {"latency_ms": 0, "module_run_ms": 0, "fail_nth": 0, "drop_nth": 0}
    assert model.read()["faults"]["cmdlets"][0]["times"] == 2
