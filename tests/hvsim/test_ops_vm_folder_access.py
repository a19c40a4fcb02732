"""hvsim's vm_folder_access: intent applied to the ACL as found, under the lock, read back, verified, retried;
each folder's failure is its own (docs/windows-contract.md, vm_folder_access)."""
import copy

import pytest
import yaml

from hvsim import ops, world
from hvsim.model import ModelError, validate

GC = "C:\\ClusterStorage\\Volume1\\GC"
OTHER = "C:\\ClusterStorage\\Volume1\\Other"
N1 = "d9e0eb0a-5b37-508e-9173-67e9ade83acf"        # GC-N1, on HV01
N2 = "0e984725-c51c-4bf4-9960-e1c80e27aba0"        # GC-N2, on HV02
SID1, SID2 = world.vm_sid(N1), world.vm_sid(N2)
STALE = world.vm_sid("00000000-0000-0000-0000-000000000007")
SVC = "S-1-5-21-1-2-3-1105"

MODEL = f"""
credentials: {{username: u, password: p}}
cluster:
  name: HVCT
  shared_volumes:
    - {{name: Cluster Disk 1, path: 'C:\\ClusterStorage\\Volume1', owner_node: HV01, state: Online}}
nodes:
  - {{name: HV01, state: Up}}
  - {{name: HV02, state: Up}}
vms:
  - {{id: {N1}, name: GC-N1, node: HV01}}
  - {{id: {N2}, name: GC-N2, node: HV02}}
folders:
  'C:\\ClusterStorage\\Volume1\\GC':
    owner: S-1-5-32-544
    access:
      - {{sid: {SVC}, rights: 'Modify, Synchronize', type: Allow, inheritance: 'ContainerInherit, ObjectInherit', propagation: None, inherited: false}}
      - {{sid: S-1-5-18, rights: FullControl, type: Allow, inheritance: 'ContainerInherit, ObjectInherit', propagation: None, inherited: true}}
      - {{sid: S-1-3-0, rights: '268435456', type: Allow, inheritance: 'ContainerInherit, ObjectInherit', propagation: InheritOnly, inherited: true}}
  'C:\\ClusterStorage\\Volume1\\Other':
    owner: S-1-5-32-544
    access:
      - {{sid: S-1-5-18, rights: FullControl, type: Allow, inheritance: 'ContainerInherit, ObjectInherit', propagation: None, inherited: true}}
accounts:
  'LAB\\svc-backup': {SVC}
"""


@pytest.fixture
def data():
    ops.load_all()
    return yaml.safe_load(MODEL)


def grant(*sids):
    return [{"sid": sid} for sid in sids]


def run(data, folders, node="HV01", check_mode=False, **args):
    args.update(folders=folders, _ansible_check_mode=check_mode)
    return ops.run("vm_folder_access", node, data, args)


def sids(data, path=GC):
    return [(a["sid"], a["rights"], a["type"], a.get("inheritance", "None"), a.get("propagation", "None"),
             a["inherited"]) for a in data["folders"][path]["access"]]


def test_a_new_ace_goes_after_the_explicit_aces_before_the_inherited_ones_and_nothing_else_moves(data):
    before = sids(data)
    result = run(data, [{"path": GC, "grant": grant(SID1, SID2)}])
    item = result["folders"][0]
    assert result["changed"] is True and item["status"] == "changed" and item["attempts"] == 1
    assert item["granted"] == [SID1, SID2] and item["upgraded"] == item["revoked"] == item["denied"] == []
    new = [(SID1, "FullControl", "Allow", "ObjectInherit", "None", False),
           (SID2, "FullControl", "Allow", "ObjectInherit", "None", False)]
    assert sids(data) == before[:1] + new + before[1:]
    # names as HV01 resolves them: GC-N1 is registered here, GC-N2 is not (its SID shows)
    assert [a["IdentityReference"] for a in item["after"][1:3]] == [f"NT VIRTUAL MACHINE\\{N1.upper()}", SID2]
    assert item["before"][0] == {"IdentityReference": "LAB\\svc-backup", "Sid": SVC, "FileSystemRights": "Modify, Synchronize",
                                 "AccessControlType": "Allow", "InheritanceFlags": "ContainerInherit, ObjectInherit",
                                 "PropagationFlags": "None", "IsInherited": False}


def test_a_rerun_finds_nothing_to_do(data):
    run(data, [{"path": GC, "grant": grant(SID1)}])
    after = copy.deepcopy(data)
    result = run(data, [{"path": GC, "grant": grant(SID1)}], node="HV02")
    assert result["changed"] is False
    assert result["folders"][0]["status"] == "ok" and result["folders"][0]["granted"] == []
    assert data == after


def test_a_weaker_ace_is_upgraded_in_place_keeping_its_other_bits(data):
    access = data["folders"][GC]["access"]
    access.insert(1, {"sid": SID1, "rights": "Read, Synchronize", "type": "Allow", "inheritance": "ContainerInherit",
                      "propagation": "InheritOnly", "inherited": False})
    access.insert(2, {"sid": SID1, "rights": "Write", "type": "Allow", "inheritance": "None", "propagation": "None",
                      "inherited": False})
    result = run(data, [{"path": GC, "grant": grant(SID1)}])
    assert result["folders"][0]["upgraded"] == [SID1]
    assert sids(data)[1] == (SID1, "FullControl", "Allow", "ContainerInherit, ObjectInherit", "None", False)
    assert sids(data)[2] == (SID1, "Write", "Allow", "None", "None", False)   # only the first is upgraded
    assert len(sids(data)) == 5


def test_generic_all_alone_does_not_count_and_is_upgraded_with_the_specific_bits(data):
    data["folders"][GC]["access"].insert(0, {"sid": SID1, "rights": "268435456", "type": "Allow",
                                             "inheritance": "ObjectInherit", "propagation": "None", "inherited": False})
    result = run(data, [{"path": GC, "grant": grant(SID1)}])
    assert result["folders"][0]["upgraded"] == [SID1]
    assert sids(data)[0][1] == str(0x10000000 | world.FULL_CONTROL)   # .NET prints a mask with GENERIC_ALL as a number


def test_an_explicit_deny_gets_nothing_and_says_so(data):
    data["folders"][GC]["access"].insert(0, {"sid": SID1, "rights": "Delete", "type": "Deny", "inherited": False})
    before = copy.deepcopy(data)
    result = run(data, [{"path": GC, "grant": grant(SID1)}])
    assert result["folders"][0]["denied"] == [SID1] and result["folders"][0]["status"] == "ok"
    assert data == before


def test_revoke_removes_only_explicit_allow_aces_of_that_vm_sid(data):
    access = data["folders"][GC]["access"]
    access[1:1] = [{"sid": STALE, "rights": "FullControl", "type": "Allow", "inheritance": "ObjectInherit", "inherited": False},
                   {"sid": STALE, "rights": "Read", "type": "Deny", "inherited": False},
                   {"sid": STALE, "rights": "FullControl", "type": "Allow", "inherited": True}]
    result = run(data, [{"path": GC, "revoke": [{"sid": STALE}]}])
    assert result["folders"][0]["revoked"] == [STALE]
    assert [(s, t, i) for s, _, t, _, _, i in sids(data) if s == STALE] == [(STALE, "Deny", False), (STALE, "Allow", True)]
    assert len(sids(data)) == 5


@pytest.mark.parametrize("args, msg", [
    ({"folders": [{"path": GC, "revoke": [{"sid": "S-1-5-32-544"}]}]},
     "vm_folder_access: folders[0].revoke[0].sid 'S-1-5-32-544' is not the SID of a VM account (S-1-5-83-1- and four "
     "numbers); only those are revoked"),
    ({"folders": [{"path": GC, "revoke": [{"sid": "S-1-5-83-1-1-2-3-4294967296"}]}]}, "is not the SID of a VM account"),
    ({"folders": [{"path": GC, "grant": grant(SID1), "revoke": [{"sid": SID1.lower()}]}]},
     f"vm_folder_access: folders[0].revoke[0].sid '{SID1.lower()}' is granted too; a SID is either granted or revoked"),
    ({"folders": [{"path": GC, "grant": grant(SID1)}, {"path": OTHER, "grant": grant("nope")}]},
     "vm_folder_access: folders[1].grant[0].sid 'nope' is not a SID"),
    ({"folders": [{"path": "ClusterStorage\\GC", "grant": grant(SID1)}]},
     "vm_folder_access: folders[0].path 'ClusterStorage\\GC' is not an absolute path"),
    ({"folders": [{"path": GC, "grant": grant(SID1)}], "lock_timeout": -1},
     "vm_folder_access: lock_timeout -1 is out of range; give 0 to 86400 seconds"),
    ({"folders": [{"path": GC, "grant": [{"sid": SID1, "rights": "Modify"}]}]}, "Modify"),
])
def test_bad_arguments_fail_before_anything_changes(data, args, msg):
    before = copy.deepcopy(data)
    result = ops.run("vm_folder_access", "HV01", data, args)
    assert result["failed"] is True and msg in result["msg"]
    assert "folders" not in result
    assert data == before


def test_check_mode_reports_what_would_be_written_and_writes_nothing(data):
    before = copy.deepcopy(data)
    result = run(data, [{"path": GC, "grant": grant(SID1)}], check_mode=True)
    assert data == before
    item = result["folders"][0]
    assert result["changed"] is True and item["status"] == "changed" and item["granted"] == [SID1]
    assert [a["Sid"] for a in item["after"]] == [SVC, SID1, "S-1-5-18", "S-1-3-0"]


@pytest.mark.parametrize("fault, error", [
    (lambda d: d["folders"][GC].update(lock_held=True),
     f"locking '{GC}' failed: the lock file '{GC}\\.hyperv-backup-acl.lock' was held by another writer for 5 s "
     "(lock_timeout); if no vm_folder_access run is under way, delete it"),
    (lambda d: d["folders"][GC].update(write_denied=True),
     f"writing the ACL of '{GC}' failed: Attempted to perform an unauthorized operation."),
    (lambda d: d.setdefault("faults", {}).update(vanishing_folders=[GC.lower()]),
     f"reading '{GC}' failed: Cannot find path '{GC}' because it does not exist."),
    (lambda d: d.setdefault("faults", {}).update(cmdlets=[{"cmdlet": "Get-Item", "module": "vm_folder_access",
                                                           "times": 1, "message": "The device is not ready."}]),
     f"reading '{GC}' failed: The device is not ready."),
])
def test_a_folders_failure_is_its_own_and_the_others_go_on(data, fault, error):
    fault(data)
    gc_before = copy.deepcopy(data["folders"].get(GC, {}).get("access"))
    result = run(data, [{"path": GC, "grant": grant(SID1)}, {"path": OTHER, "grant": grant(SID1)}], lock_timeout=5)
    first, second = result["folders"]
    assert first["status"] == "failed" and first["error"] == error
    assert second["status"] == "changed" and second["granted"] == [SID1]
    assert result["changed"] is True and "failed" not in result
    if GC in data["folders"]:
        assert data["folders"][GC]["access"] == gc_before


def test_a_lost_update_is_noticed_and_applied_again_keeping_the_other_writers_ace(data):
    data["faults"] = {"acl_writers": [{"path": GC.upper(), "sid": "S-1-5-21-9-9-9-500"}]}
    result = run(data, [{"path": GC, "grant": grant(SID1, SID2)}])
    item = result["folders"][0]
    assert item["status"] == "changed" and item["attempts"] == 2
    explicit = [s for s, *_, inherited in sids(data) if not inherited]
    assert explicit == [SVC, "S-1-5-21-9-9-9-500", SID1, SID2]
    assert [a["Sid"] for a in item["after"]][:4] == explicit


def test_a_change_lost_every_time_fails_the_folder_naming_what_is_missing(data):
    data["faults"] = {"acl_writers": [{"path": GC, "sid": "S-1-5-21-9-9-9-500", "times": 3}]}
    result = run(data, [{"path": GC, "grant": grant(SID1)}])
    item = result["folders"][0]
    assert item["status"] == "failed" and item["attempts"] == 3
    assert item["error"] == (f"the ACL of '{GC}' lost this module's change 3 times (another program wrote it at the same "
                             f"time): {SID1} has no explicit Allow ACE with Full Control and object inheritance")
    # what the other writer wrote is kept: its ACE and everything that was there before
    assert [s for s, *_ in sids(data)] == [SVC, "S-1-5-21-9-9-9-500", "S-1-5-18", "S-1-3-0"]
    assert result["changed"] is True


def test_an_acl_writer_only_touches_its_folder_and_node(data):
    data["faults"] = {"acl_writers": [{"path": GC, "sid": "S-1-5-21-9-9-9-500", "node": "HV02"}]}
    result = run(data, [{"path": GC, "grant": grant(SID1)}], node="HV01")
    assert result["folders"][0]["attempts"] == 1
    assert "S-1-5-21-9-9-9-500" not in [s for s, *_ in sids(data)]


@pytest.mark.parametrize("faults, message", [
    ({"acl_writers": [{"path": GC}]}, "faults.acl_writers[0] needs a 'sid'"),
    ({"acl_writers": [{"path": GC, "sid": "S-1-1-0", "times": -1}]}, "faults.acl_writers[0].times must be an integer"),
    ({"acl_writers": [{"path": GC, "sid": "S-1-1-0", "when": 1}]}, "unknown key 'when'"),
    ({"vanishing_folders": "C:\\x"}, "faults.vanishing_folders must be a list"),
    ({"registry_writes": [{"name": 1}]}, "faults.registry_writes[0].name must be a str"),
])
def test_the_model_refuses_malformed_fault_knobs(data, faults, message):
    data["faults"] = faults
    with pytest.raises(ModelError, match=message.replace("[", "\\[").replace("]", "\\]")):
        validate(data)
