"""The host (hvsim's vm_folder_access, which plays vm_folder_access.ps1) does to an ACL exactly what the
planner's reference, ``_folder_access.apply_intent``, says it does: same ACEs, same order, same report, for
random ACLs, grants and revokes. The planner's check mode is therefore what the host then writes."""
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.hyperv.backup.plugins.plugin_utils import _folder_access as fa
from hvsim import ops
from tests.unit.plugins.plugin_utils.test_folder_access import GC, STALE_SID, SID1, acls, grant_sets

REVOKABLE = [STALE_SID, SID1]


def model(access):
    return {"credentials": {"username": "u", "password": "p"},
            "cluster": {"name": "C", "shared_volumes": [{"name": "CSV", "path": "C:\\ClusterStorage\\Volume2",
                                                         "owner_node": "HV01"}]},
            "nodes": [{"name": "HV01"}], "vms": [],
            "folders": {GC: {"access": [{"sid": e["Sid"], "rights": str(e["FileSystemRights"]), "type": e["AccessControlType"],
                                         "inheritance": e["InheritanceFlags"], "propagation": e["PropagationFlags"],
                                         "inherited": e["IsInherited"]} for e in access]}}}


def entry_key(entry):
    parsed = fa.parse_entry(entry)
    return (parsed["sid"], parsed["mask"], parsed["allow"], parsed["inheritance"], parsed["propagation"], parsed["inherited"])


@settings(max_examples=150, deadline=None)
@given(acls, grant_sets, st.lists(st.sampled_from(REVOKABLE), unique=True, max_size=2), st.booleans())
def test_the_host_applies_the_intent_as_the_planner_predicts(access, sids, revoked, check_mode):
    ops.load_all()
    grants = [dict(fa.GRANT, sid=sid) for sid in sids]
    revokes = [{"sid": sid} for sid in revoked if sid not in sids]  # a SID is either granted or revoked
    predicted, done = fa.apply_intent(access, grants, revokes)
    data = model(access)
    result = ops.run("vm_folder_access", "HV01", data, {"folders": [{"path": GC, "grant": grants, "revoke": revokes}],
                                                       "_ansible_check_mode": check_mode})
    item = result["folders"][0]
    assert item["status"] == ("changed" if predicted != list(access) else "ok"), item
    assert [entry_key(e) for e in item["after"]] == [entry_key(e) for e in predicted]
    assert {key: item[key] for key in done} == done
    if not check_mode:
        written = [fa.parse_entry({"Sid": a["sid"], "FileSystemRights": a["rights"], "AccessControlType": a["type"],
                                   "InheritanceFlags": a["inheritance"], "PropagationFlags": a["propagation"],
                                   "IsInherited": a["inherited"]}) for a in data["folders"][GC]["access"]]
        assert [tuple(w.values()) for w in written] == [entry_key(e) for e in predicted]
