"""Bad input, across modules, filters and role variables: each case fails with a clear message that names the
bad value, shows no Python internals, and changes nothing (the model file is byte-identical, no apply module is
sent). All the cases run as the tasks of one playbook (``ignore_errors``), so the table costs one ansible run.

And the other side of it: names, paths and accounts carrying quotes, semicolons, ``$()``, backticks and non-ASCII
letters are valid data; hvsim records the arguments each module run received, and they are the ones given, byte
for byte.
"""
import re

import pytest

from hvsim import world
from tests.integration import reliability as R
from tests.integration.modelkit import model, node, vm

pytestmark = pytest.mark.integration

SQL01 = "0a808413-b452-59d1-9ca1-500dffe31135"
GUID35 = SQL01[:-1]                       # one hex digit short
CSV = "C:\\ClusterStorage\\Volume1"

# (case, task, value that the message must name). The task is one module call or a debug of a filter; every
# case runs on HV01 of the demo cluster.
CASES = [
    # checkpoint_type
    ("unknown checkpoint type", {"hyperv.backup.checkpoint_type": {"checkpoint_type": "Snapshotty"}}, "Snapshotty"),
    ("35-character GUID", {"hyperv.backup.checkpoint_type": {"checkpoint_type": "Production", "vms": [GUID35]}},
     GUID35),
    ("GUID with an open brace", {"hyperv.backup.checkpoint_type": {"checkpoint_type": "Production",
                                                                  "vms": ["{" + SQL01]}}, "{" + SQL01),
    ("GUID with a non-hex digit", {"hyperv.backup.checkpoint_type": {
        "checkpoint_type": "Production", "vms": ["0a808413-b452-59d1-9ca1-500dffe3113g"]}},
     "0a808413-b452-59d1-9ca1-500dffe3113g"),
    ("unknown compliant type", {"hyperv.backup.checkpoint_type": {"checkpoint_type": "Production",
                                                                 "compliant_types": ["Production", "Sometimes"]}},
     "Sometimes"),
    ("automatic_checkpoints not a boolean", {"hyperv.backup.checkpoint_type": {
        "checkpoint_type": "Production", "automatic_checkpoints": "perhaps"}}, "perhaps"),
    ("control character in a VM name", {"hyperv.backup.checkpoint_type": {"checkpoint_type": "Production",
                                                                         "vms": ["SQL\u000701"]}}, "SQL"),
    ("malformed exclude", {"hyperv.backup.checkpoint_type": {"checkpoint_type": "Production",
                                                            "exclude": ["{" + GUID35 + "}"]}}, GUID35),
    ("malformed query", {"hyperv.backup.checkpoint_type": {"checkpoint_type": "Production",
                                                          "query": "[?State=='Running'"}}, "[?State=='Running'"),
    ("unknown option", {"hyperv.backup.checkpoint_type": {"checkpoint_type": "Production", "chekpoint": 1}},
     "chekpoint"),
    ("facts not a dictionary", {"hyperv.backup.checkpoint_type": {"checkpoint_type": "Production",
                                                                 "facts": "stale"}}, "facts"),
    # scsi_controller
    ("negative count", {"hyperv.backup.scsi_controller": {"count": -1}}, "-1"),
    ("count above four", {"hyperv.backup.scsi_controller": {"count": 9}}, "9"),
    ("count not a number", {"hyperv.backup.scsi_controller": {"count": "three"}}, "three"),
    ("unknown running_vms", {"hyperv.backup.scsi_controller": {"running_vms": "reboot"}}, "reboot"),
    ("negative max_restarts", {"hyperv.backup.scsi_controller": {"max_restarts": -2, "running_vms": "restart"}},
     "-2"),
    ("negative shutdown_timeout", {"hyperv.backup.scsi_controller": {"shutdown_timeout": -30}}, "-30"),
    ("vms a dictionary", {"hyperv.backup.scsi_controller": {"vms": {"SQL01": 1}}}, "vms"),
    # backup_integration
    ("unknown state", {"hyperv.backup.backup_integration": {"state": "on-ish"}}, "on-ish"),
    ("malformed GUID among names", {"hyperv.backup.backup_integration": {"vms": ["SQL01", "{" + GUID35 + "}"]}},
     GUID35),
    # vm_folder_access
    ("relative folder", {"hyperv.backup.vm_folder_access": {"path": "ClusterStorage\\Volume2\\GuestCluster-SQL",
                                                            "vm_ids": [SQL01]}}, "ClusterStorage\\Volume2"),
    ("folder that does not exist", {"hyperv.backup.vm_folder_access": {"path": CSV + "\\No Such Folder",
                                                                       "vm_ids": [SQL01]}}, "No Such Folder"),
    ("malformed vm_ids", {"hyperv.backup.vm_folder_access": {"path": "C:\\ClusterStorage\\Volume2\\GuestCluster-SQL",
                                                             "vm_ids": [GUID35]}}, GUID35),
    ("control character in a folder", {"hyperv.backup.vm_folder_access": {"path": CSV + "\\a\u0001b",
                                                                          "vm_ids": [SQL01]}}, "path"),
    ("negative lock_timeout", {"hyperv.backup.vm_folder_access": {"path": "C:\\ClusterStorage\\Volume2\\GuestCluster-SQL",
                                                                  "vm_ids": [SQL01], "lock_timeout": -5}}, "-5"),
    ("folder access: cluster_view not a view", {"hyperv.backup.vm_folder_access": {
        "discover": True, "cluster_view": {"vms": "many"}}}, "cluster_view"),
    # vss_access_control
    ("unknown access", {"hyperv.backup.vss_access_control": {"accounts": [{"name": "LAB\\svc-veeam",
                                                                           "access": "sometimes"}]}}, "sometimes"),
    ("access out of range", {"hyperv.backup.vss_access_control": {"accounts": [{"name": "LAB\\svc-veeam",
                                                                                "access": 7}]}}, "7"),
    ("account that does not resolve", {"hyperv.backup.vss_access_control": {"accounts": ["LAB\\nobody-here"],
                                                                            "resolve": True}}, "LAB\\nobody-here"),
    ("control character in an account", {"hyperv.backup.vss_access_control": {"accounts": ["LAB\\svc\tveeam"]}},
     "veeam"),
    ("unknown vss state", {"hyperv.backup.vss_access_control": {"accounts": ["LAB\\svc-veeam"], "state": "gone"}},
     "gone"),
    ("account without a name", {"hyperv.backup.vss_access_control": {"accounts": [{"access": "both"}]}}, "name"),
    # cluster_config_store
    ("relative store path", {"hyperv.backup.cluster_config_store": {"path": "Hyper-V\\Store"}}, "Hyper-V\\Store"),
    ("store path not on a CSV", {"hyperv.backup.cluster_config_store": {"path": "D:\\Hyper-V\\Store"}},
     "D:\\Hyper-V\\Store"),
    ("wildcard in the store path", {"hyperv.backup.cluster_config_store": {"path": CSV + "\\Store*"}}, "Store*"),
    ("unknown on_conflict", {"hyperv.backup.cluster_config_store": {"path": CSV + "\\Store",
                                                                   "on_conflict": "ignore"}}, "ignore"),
    ("control character in the store path", {"hyperv.backup.cluster_config_store": {"path": CSV + "\\St\u001bore"}},
     "path"),
    # csv_placement
    ("unknown strategy", {"hyperv.backup.csv_placement": {"cluster_view": "{{ hv_view }}", "strategy": "random"}},
     "random"),
    ("unknown migration type", {"hyperv.backup.csv_placement": {"cluster_view": "{{ hv_view }}",
                                                                "migration_type": "teleport"}}, "teleport"),
    ("zero parallel", {"hyperv.backup.csv_placement": {"cluster_view": "{{ hv_view }}", "parallel": 0}}, "0"),
    ("memory_headroom not a size", {"hyperv.backup.csv_placement": {"cluster_view": "{{ hv_view }}",
                                                                    "memory_headroom": "lots"}}, "lots"),
    ("negative max_moves", {"hyperv.backup.csv_placement": {"cluster_view": "{{ hv_view }}", "max_moves": -1}},
     "-1"),
    ("placement: cluster_view not a view", {"hyperv.backup.csv_placement": {"cluster_view": {"nodes": 3}}},
     "cluster view"),
    # host_facts
    ("unknown subset", {"hyperv.backup.host_facts": {"gather_subset": ["vms", "everything"]}}, "everything"),
    ("negative events_days", {"hyperv.backup.host_facts": {"events_days": -1}}, "-1"),
    ("relative acl path", {"hyperv.backup.host_facts": {"acl_paths": ["Volume1\\GC"]}}, "Volume1\\GC"),
    # filters
    ("vm_sid of a 35-character GUID", {"ansible.builtin.debug": {"msg": "{{ '" + GUID35 + "' | hyperv.backup.vm_sid }}"}},
     GUID35),
    ("vm_account of a name", {"ansible.builtin.debug": {"msg": "{{ 'SQL01' | hyperv.backup.vm_account }}"}}, "SQL01"),
    ("readiness policy with an unknown checkpoint type", {"ansible.builtin.debug": {
        "msg": "{{ hv_view | hyperv.backup.readiness(policy={'checkpoint_types': ['Snapshotty']}) }}"}}, "Snapshotty"),
    ("readiness policy with an unknown key", {"ansible.builtin.debug": {
        "msg": "{{ hv_view | hyperv.backup.readiness(policy={'scsi_controlers': 1}) }}"}}, "scsi_controlers"),
    ("readiness policy with a count out of range", {"ansible.builtin.debug": {
        "msg": "{{ hv_view | hyperv.backup.readiness(policy={'scsi_controllers': 12}) }}"}}, "12"),
    ("readiness with a bad time", {"ansible.builtin.debug": {
        "msg": "{{ hv_view | hyperv.backup.readiness(now='yesterday') }}"}}, "yesterday"),
    ("cluster_view of text", {"ansible.builtin.debug": {"msg": "{{ 'HV01' | hyperv.backup.cluster_view }}"}}, "HV01"),
]

# Role variables: each case is the role backup_readiness with one bad variable (its argument_specs, or the
# policy check the role makes before any host is read).
ROLE_CASES = [
    ("role: unknown checkpoint type", {"hyperv_backup_readiness_checkpoint_type": "Snapshotty"}, "Snapshotty"),
    ("role: unknown fail_on", {"hyperv_backup_readiness_fail_on": "sometimes"}, "sometimes"),
    ("role: unknown scsi_running_vms", {"hyperv_backup_readiness_scsi_running_vms": "reboot"}, "reboot"),
    ("role: SCSI count not a number", {"hyperv_backup_readiness_scsi_controller_count": "many"}, "many"),
    ("role: unknown report format", {"hyperv_backup_readiness_report_formats": ["html", "pdf"]}, "pdf"),
    ("role: relative store path", {"hyperv_backup_readiness_config_store_path": "Hyper-V\\Store"}, "Hyper-V\\Store"),
]

INTERNALS = re.compile(r"_AnsibleLazyTemplate|ansible_collections\.|Traceback|<class '|AnsibleTagged|"
                       r"NoneType|object at 0x")


def test_the_table_has_at_least_forty_cases():
    assert len(CASES) + len(ROLE_CASES) >= 40
    assert len({name for name, _, _ in CASES + ROLE_CASES}) == len(CASES) + len(ROLE_CASES)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """Run every case once; returns ``(messages, model unchanged, journal)``."""
    workdir = tmp_path_factory.mktemp("bad-input")
    with R.LabRun("demo", workdir) as lab:
        gather = {"name": "gather", "hyperv.backup.host_facts": {}}
        view = {"name": "view", "run_once": True, "ansible.builtin.set_fact": {
            "hv_view": "{{ ansible_play_hosts | map('extract', hostvars, ['ansible_facts', 'hyperv_backup']) "
                       "| hyperv.backup.cluster_view }}"}}
        tasks = [{"name": name, **task, "ignore_errors": True} for name, task, _ in CASES]
        plays = [R.play([gather, view]), R.play(tasks, hosts="HV01")]
        for name, variables, _ in ROLE_CASES:
            plays.append(R.play([{"name": name, "block": [{"ansible.builtin.include_role": {
                "name": "hyperv.backup.backup_readiness"}}], "rescue": [{"name": name + " (rescued)",
                "ansible.builtin.set_fact": {"failure": "{{ ([ansible_failed_result.msg] + (ansible_failed_result.results "
                                                "| default([]) | map(attribute='msg', default='') | list)) | join(' ') }}"}}]}],
                hosts="HV01", vars=R.unsafe(variables)))
        before = R.model_bytes(lab)
        lab.clear_journal()
        rc, out = R.run_playbook(lab, workdir, plays)
        messages = {}
        for each in out["plays"]:
            for task in each["tasks"]:
                result = task["hosts"].get("HV01") or {}
                name = task["task"]["name"]
                if name in messages or not (result.get("failed") or name.endswith("(rescued)")):
                    continue
                if name.endswith("(rescued)"):
                    name = name[:-len(" (rescued)")]
                    messages[name] = str(result.get("ansible_facts", {}).get("failure"))
                else:
                    messages[name] = str(result.get("msg"))
        return {"rc": rc, "messages": messages, "unchanged": R.model_bytes(lab) == before,
                "journal": lab.journal, "out": out}


@pytest.mark.parametrize("name, task, value", CASES + [(n, None, v) for n, _, v in ROLE_CASES],
                         ids=[c[0] for c in CASES + ROLE_CASES])
def test_a_bad_value_fails_naming_it_and_changes_nothing(table, name, task, value):
    assert name in table["messages"], f"'{name}' did not fail"
    message = table["messages"][name]
    assert value in message, f"'{name}': the message does not name {value!r}: {message}"
    assert not INTERNALS.search(message), f"'{name}': the message shows Python internals: {message}"
    assert table["unchanged"], "a bad input changed the model"
    # no apply module was sent, but for the account that only the host can resolve (it fails there, unchanged)
    sent = [e for e in table["journal"] if e["module"] in R.APPLY_MODULES]
    assert [e["args"].get("resolve") for e in sent] in ([], [["LAB\\nobody-here"]]), sent


# -- names, paths and accounts are data -----------------------------------------------------------------------
NASTY_VM = "O'Brien; $(Remove-Item C:\\) `whoami` \"q\" \u00e9t\u00e9-\u6570\u636e"
NASTY_ID = "b2f1c7a0-0001-4c1a-9a7e-000000000001"
NASTY_FOLDER = CSV + "\\GC $(x); 'q' `t` \u00c5ngstr\u00f6m"
NASTY_ACCOUNT = "LAB\\O'Brien $(Get-Date); `x` \u00e9\u6570"
NASTY_SID = "S-1-5-21-1004336348-1177238915-682003330-1201"
NASTY_STORE = CSV + "\\Hyper-V\\Store 'a'; $(b) `c` \u00fc\u6570"


def nasty_model():
    data = model([node("HV01")], [
        vm(NASTY_VM, NASTY_ID, "HV01", state="Off",
           backup_integration={"enabled": False, "status": "OK"},
           hard_disks=[{"path": NASTY_FOLDER + "\\shared.vhds", "controller_type": "SCSI", "controller_number": 0,
                        "controller_location": 1, "shared": True}]),
    ])
    data["folders"] = {NASTY_FOLDER: {"nodes": "all", "owner": "S-1-5-32-544", "access": [
        {"sid": "S-1-5-32-544", "rights": "FullControl", "type": "Allow",
         "inheritance": "ContainerInherit, ObjectInherit", "propagation": "None", "inherited": True}]}}
    data["accounts"] = {NASTY_ACCOUNT: NASTY_SID}
    return data


def test_names_paths_and_accounts_with_quotes_semicolons_subexpressions_and_non_ascii_arrive_byte_for_byte(tmp_path):
    tasks = [
        {"name": "integration", "hyperv.backup.backup_integration": {"vms": [NASTY_VM]}},
        {"name": "folder", "hyperv.backup.vm_folder_access": {"path": NASTY_FOLDER, "vm_ids": [NASTY_ID]}},
        {"name": "vss", "hyperv.backup.vss_access_control": {"accounts": [{"name": NASTY_ACCOUNT, "access": "both"}],
                                                             "resolve": True}},
        {"name": "store", "hyperv.backup.cluster_config_store": {"path": NASTY_STORE}},
    ]
    with R.LabRun(nasty_model(), tmp_path) as lab:
        lab.clear_journal()
        rc, out = R.run_playbook(lab, tmp_path, [R.play(R.unsafe(tasks), hosts="HV01")])
        assert rc == 0, out
        runs = {}
        for entry in lab.journal:
            runs.setdefault(entry["module"], []).append(entry["args"])
        # what each host received: the operations and paths exactly as given
        (integration,) = [a for a in runs["backup_integration"] if a.get("operations")]
        assert [op["name"] for op in integration["operations"]] == [NASTY_VM]
        (folders,) = [a for a in runs["vm_folder_access"] if a.get("folders")]
        assert [f["path"] for f in folders["folders"]] == [NASTY_FOLDER]
        (vss,) = [a for a in runs["vss_access_control"] if a.get("operations")]
        assert [op["name"] for op in vss["operations"]] == [NASTY_ACCOUNT]
        assert [a["path"] for a in runs["cluster_config_store"] if a.get("path")][-1] == NASTY_STORE
        # and what they did with it
        after = lab.read_model()
        assert after["vms"][0]["backup_integration"]["enabled"] is True
        assert after["nodes"][0]["vss_access_control"] == {NASTY_ACCOUNT: 3}
        assert after["cluster"]["parameters"]["ConfigStoreRootPath"] == NASTY_STORE
        assert world.vm_sid(NASTY_ID).upper() in [a["sid"].upper() for a in after["folders"][NASTY_FOLDER]["access"]]
