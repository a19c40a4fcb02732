"""What the reliability suites share: random cluster models (hypothesis strategies), the model diff, playbooks
whose values stay data, and the checks every capability's run must pass.

The suites (``test_properties.py``, ``test_fault_recovery.py``, ``test_bad_input.py``, ``test_secrets.py``) run
real ansible processes against hvsim labs built from these models.
"""
import copy
import os
import re
import unicodedata
import uuid

import atexit
import shutil
import tempfile

import yaml
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from hvsim import world
from hvsim.testing import Lab, host_results, run_ansible

# hypothesis keeps its caches (and would keep examples) in a temporary directory, never in the checkout.
_HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="hypothesis-")
atexit.register(shutil.rmtree, _HYPOTHESIS_HOME, ignore_errors=True)
set_hypothesis_home_dir(_HYPOTHESIS_HOME)

GIB = 2 ** 30
NODE_STATES = ("Up", "Paused", "Down")
# Running, Off, Saved, Paused and the critical states (the VM's storage is not accessible: every cmdlet that
# reads its configuration fails, docs/hvsim.md).
VM_STATES = ("Running", "Off", "Saved", "Paused", "OffCritical", "RunningCritical")
CHECKPOINT_TYPES = ("Disabled", "Production", "ProductionOnly", "Standard")
# Configuration versions: 5.0 is below 6.2 (no Production checkpoints), the others above.
VERSIONS = ("5.0", "8.0", "9.0", "10.0")
# Windows Server 2016 (no automatic checkpoints), 2019 and 2022.
BUILDS = (14393, 17763, 20348)

# Values that have broken naive quoting somewhere: PowerShell's quotes, sub-expressions and escape character,
# a statement separator, Jinja's delimiters, non-ASCII letters in three scripts, glob characters, spaces.
NASTY = (
    "O'Brien", '"double"', "a;b", "$(Get-Date)", "`tick`", "{{ 7 * 7 }}", "{% raw %}", "\u6570\u636e\u5e93",
    "\u00dcn\u00efc\u00f6d\u00e9", "\u0645\u062e\u0632\u0646", "semi; $(x) `y`", "x*y", "[abc]", "two  spaces",
    "\U0001f600 emoji", "back\\slash", "-dash", "@at", "%PATH%", "&amp;",
)


def _printable(char):
    return char.isprintable()


# Any printable character (Unicode's letters, marks, numbers, punctuation, symbols and the space), as many
# as a user may type in Hyper-V Manager.
PRINTABLE = st.characters(blacklist_categories=("Cc", "Cs", "Co", "Cn", "Zl", "Zp", "Cf")).filter(_printable)


def names():
    """A VM name: any printable text that is not blank, or one of the values known to break quoting."""
    return st.one_of(
        st.sampled_from(NASTY),
        st.text(PRINTABLE, min_size=1, max_size=14).filter(lambda text: text.strip()),
        st.builds(lambda a, b: f"{a} {b}", st.sampled_from(NASTY), st.sampled_from(NASTY)),
    )


# Folder names: what Windows allows in a file name (not <>:"/\|?*, no control characters), without the
# trailing dot or space that Win32 path normalisation strips (so the folder created is the folder named).
_FOLDER_FORBIDDEN = set('<>:"/\\|?*')
FOLDER_CHARS = PRINTABLE.filter(lambda c: c not in _FOLDER_FORBIDDEN)
FOLDER_NASTY = ("O'Brien", "a;b", "$(Get-Date)", "`tick`", "{{ 7 + 7 }}", "\u6570\u636e", "Config Store", "x[1]",
                "\u00e9t\u00e9 & hiver", "%TEMP%")


def folder_names():
    return st.one_of(
        st.sampled_from(FOLDER_NASTY),
        st.text(FOLDER_CHARS, min_size=1, max_size=12).filter(
            lambda text: text.strip() == text and not text.endswith(".") and text not in (".", "..")),
    )


# Accounts: names that resolve everywhere (model ``accounts``), quotes, `$()`, backticks and non-ASCII included.
ACCOUNT_POOL = (
    ("LAB\\svc-backup", "S-1-5-21-1004336348-1177238915-682003330-1105"),
    ("LAB\\svc-veeam", "S-1-5-21-1004336348-1177238915-682003330-1106"),
    ("LAB\\O'Brien $(Get-Date); `x`", "S-1-5-21-1004336348-1177238915-682003330-1107"),
    ("LAB\\\u6570\u636e\u5e93-\u00e9", "S-1-5-21-1004336348-1177238915-682003330-1108"),
    ("LAB\\{{ lookup('env', 'HOME') }}", "S-1-5-21-1004336348-1177238915-682003330-1109"),
    ("LAB\\hv-admins", "S-1-5-21-1004336348-1177238915-682003330-1110"),
)
ACCOUNTS = dict(ACCOUNT_POOL)
# Principals of foreign ACEs: well-known SIDs and the accounts above.
FOREIGN_SIDS = ("S-1-5-18", "S-1-5-32-544", "S-1-5-11", "S-1-1-0", "S-1-5-32-545", "S-1-3-0") + \
    tuple(sid for _, sid in ACCOUNT_POOL)
RIGHTS = ("FullControl", "Modify, Synchronize", "ReadAndExecute, Synchronize", "Read", "268435456", "Write")
INHERITANCE = ("None", "ObjectInherit", "ContainerInherit", "ContainerInherit, ObjectInherit")
PROPAGATION = ("None", "InheritOnly", "NoPropagateInherit")


def foreign_ace(draw, sids=FOREIGN_SIDS, inherited=None):
    """An ACE of another principal: explicit or inherited, Allow or Deny, any rights and flags."""
    inheritance = draw(st.sampled_from(INHERITANCE))
    return {"sid": draw(st.sampled_from(sids)), "rights": draw(st.sampled_from(RIGHTS)),
            "type": draw(st.sampled_from(("Allow", "Allow", "Deny"))),
            "inheritance": inheritance,
            "propagation": "None" if inheritance == "None" else draw(st.sampled_from(PROPAGATION)),
            "inherited": draw(st.booleans()) if inherited is None else inherited}


def canonical(access):
    """Explicit ACEs before inherited ones, each group in the drawn order (how Windows keeps a DACL)."""
    return [a for a in access if not a["inherited"]] + [a for a in access if a["inherited"]]


@st.composite
def cluster_models(draw, min_nodes=1, max_nodes=4, max_vms=7, password="hvsim-Passw0rd"):
    """A random failover cluster: 1-4 nodes Up, Paused or Down, on 2016/2019/2022 builds, each with its own
    VssAccessControl key; 1-3 CSVs with random owners; VMs in every state (critical ones too), generations
    1 and 2, configuration versions below and above 6.2, names with any printable character and
    duplicates; guest clusters whose VMs on different nodes share VHD Sets in a CSV folder whose ACL holds
    foreign entries (explicit and inherited, other principals, deny entries, VM ACEs that are partial).

    The first node is Up, so that every capability has a node that can run the cluster's operations."""
    count = draw(st.integers(min_nodes, max_nodes))
    nodes = []
    for index in range(count):
        name = f"HV{index + 1:02d}"
        vss = draw(st.one_of(st.none(), st.dictionaries(st.sampled_from([n for n, _ in ACCOUNT_POOL]),
                                                          st.integers(0, 3), max_size=3)))
        nodes.append({"name": name, "fqdn": f"{name.lower()}.prop.example",
                      "state": "Up" if index == 0 else draw(st.sampled_from(NODE_STATES)),
                      "os_build": draw(st.sampled_from(BUILDS)), "vss_access_control": vss, "vss_writers": []})
    node_names = [n["name"] for n in nodes]

    csvs = []
    for index in range(draw(st.integers(1, 3))):
        csvs.append({"name": f"Cluster Disk {index + 1}", "path": f"C:\\ClusterStorage\\Volume{index + 1}",
                     "owner_node": draw(st.sampled_from(node_names)), "state": "Online"})

    vm_count = draw(st.integers(0, max_vms))
    ids = draw(st.lists(st.uuids(), min_size=vm_count, max_size=vm_count, unique=True))
    pool = draw(st.lists(names(), min_size=1, max_size=max(1, vm_count)))   # fewer names than VMs: duplicates
    vms = []
    for index, vm_id in enumerate(ids):
        generation = draw(st.sampled_from((1, 2)))
        volume = draw(st.sampled_from(csvs))
        folder = f"{volume['path']}\\vm{index}"
        scsi = draw(st.integers(0 if generation == 1 else 1, 2))
        disk_controller = "SCSI" if scsi else "IDE"
        state = draw(st.sampled_from(VM_STATES))
        vms.append({
            "id": str(vm_id), "name": draw(st.sampled_from(pool)), "node": draw(st.sampled_from(node_names)),
            "state": state, "generation": generation, "version": draw(st.sampled_from(VERSIONS)),
            "processor_count": 2, "memory_startup": draw(st.integers(1, 8)) * GIB, "dynamic_memory": False,
            "checkpoint_type": draw(st.sampled_from(CHECKPOINT_TYPES)),
            "automatic_checkpoints": draw(st.booleans()),
            "path": folder, "clustered": draw(st.sampled_from((True, True, True, False))),
            "anti_affinity_class_names": [], "scsi_controllers": scsi,
            "hard_disks": [{"path": f"{folder}\\os.vhdx", "controller_type": disk_controller, "controller_number": 0,
                            "controller_location": 0, "shared": False}],
            "backup_integration": draw(st.one_of(st.none(), st.builds(lambda e: {"enabled": e, "status": "OK"},
                                                                        st.booleans()))),
            "checkpoints": [],
            # a guest that shuts down well within the module's default timeout
            "guest": {"shutdown_seconds": draw(st.integers(1, 60)), "honours_shutdown": True},
        })

    folders = {}
    guest_vms = [vm for vm in vms if not world.is_critical(vm["state"])]
    for group in range(draw(st.integers(0, 2)) if len(guest_vms) >= 2 else 0):
        members = draw(st.lists(st.sampled_from(guest_vms), min_size=2, max_size=min(3, len(guest_vms)),
                                unique_by=lambda vm: vm["id"]))
        volume = draw(st.sampled_from(csvs))
        path = f"{volume['path']}\\GC{group}-{draw(folder_names())}"
        for vm in members:
            number = 1 + sum(1 for d in vm["hard_disks"] if d["shared"])
            vm["hard_disks"].append({"path": f"{path}\\shared.vhds", "controller_type": "SCSI",
                                     "controller_number": 1, "controller_location": number, "shared": True})
            vm["scsi_controllers"] = max(vm["scsi_controllers"], 2)
        access = [foreign_ace(draw) for _ in range(draw(st.integers(0, 5)))]
        # some members already have an ACE: the one the fix grants, or a partial one (Read), explicit or not
        for vm in members:
            kind = draw(st.sampled_from(("none", "none", "granted", "partial", "inherited")))
            if kind == "granted":
                access.append({"sid": world.vm_sid(vm["id"]), "rights": "FullControl", "type": "Allow",
                               "inheritance": "ObjectInherit", "propagation": "None", "inherited": False})
            elif kind in ("partial", "inherited"):
                access.append({"sid": world.vm_sid(vm["id"]), "rights": "ReadAndExecute, Synchronize", "type": "Allow",
                               "inheritance": "ContainerInherit", "propagation": "None",
                               "inherited": kind == "inherited"})
        access += [{"sid": "S-1-5-18", "rights": "FullControl", "type": "Allow",
                    "inheritance": "ContainerInherit, ObjectInherit", "propagation": "None", "inherited": True},
                   {"sid": "S-1-5-32-544", "rights": "FullControl", "type": "Allow",
                    "inheritance": "ContainerInherit, ObjectInherit", "propagation": "None", "inherited": True}]
        folders[path] = {"nodes": "all", "owner": "S-1-5-32-544", "access": canonical(access)}

    store = draw(st.sampled_from(("", "", "", "set")))
    return {
        "credentials": {"username": "hvadmin", "password": password},
        "cluster": {"name": "HVPROP", "parameters": {
            "ConfigStoreRootPath": store if store != "set" else f"{csvs[0]['path']}\\Hyper-V\\Existing"},
            "shared_volumes": csvs, "csv_balancer": 0, "auto_balancer_mode": 0},
        "nodes": nodes,
        "vms": vms,
        "folders": folders,
        "accounts": dict(ACCOUNTS),
        "faults": {"latency_ms": 0, "fail_nth": 0, "drop_nth": 0},
    }


# -- playbooks whose values are data ------------------------------------------------------------------------
class _Unsafe(str):
    """A string written with Ansible's ``!unsafe`` tag: never templated, whatever braces it holds."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Unsafe, lambda dumper, value: dumper.represent_scalar("!unsafe", str(value)))


def unsafe(value):
    """``value`` with every string in it marked ``!unsafe`` (data, never a template)."""
    if isinstance(value, str):
        return _Unsafe(value)
    if isinstance(value, list):
        return [unsafe(v) for v in value]
    if isinstance(value, dict):
        return {k: unsafe(v) for k, v in value.items()}
    return value


def write_playbook(directory, plays, name="site"):
    """Write ``plays`` as a YAML playbook in ``directory``; returns its path."""
    path = os.path.join(str(directory), f"{name}-{uuid.uuid4().hex[:8]}.yml")
    with open(path, "w", encoding="utf-8") as fh:
        yaml.dump(plays, fh, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1000)
    return path


def play(tasks, hosts="hv", **options):
    return {"name": "reliability", "hosts": hosts, "gather_facts": False, **options, "tasks": tasks}


def run_playbook(lab, directory, plays, *extra):
    """Run ``plays``; returns ``(rc, JSON output)``."""
    rc, out = run_ansible(lab, "ansible-playbook", write_playbook(directory, plays), *extra)
    assert isinstance(out, dict), out
    return rc, out


def task_results(out, name):
    """``{host: result}`` of the task called ``name`` (the last one of that name)."""
    found = None
    for each in out["plays"]:
        for task in each["tasks"]:
            if task["task"]["name"] == name:
                found = task["hosts"]
    assert found is not None, f"no task '{name}' in {[t['task']['name'] for p in out['plays'] for t in p['tasks']]}"
    return found


# -- the model diff ----------------------------------------------------------------------------------------
def _keyed(data):
    """The model with its lists keyed by what identifies their items: VMs by ID, nodes and CSVs by name."""
    data = copy.deepcopy(data)
    data["vms"] = {vm["id"].lower(): vm for vm in data.get("vms") or []}
    data["nodes"] = {n["name"].upper(): n for n in data.get("nodes") or []}
    cluster = data.get("cluster") or {}
    if cluster:
        cluster["shared_volumes"] = {v["name"]: v for v in cluster.get("shared_volumes") or []}
    return data


def _walk(before, after, path, out):
    if isinstance(before, dict) and isinstance(after, dict):
        for key in list(before) + [k for k in after if k not in before]:
            _walk(before.get(key, _MISSING), after.get(key, _MISSING), path + (key,), out)
    elif before != after:
        out[path] = (before, after)


_MISSING = type("Missing", (), {"__repr__": lambda self: "<missing>"})()


def model_diff(before, after):
    """``{path: (before, after)}`` of every value that differs between two models (VMs keyed by ID, nodes and
    CSVs by name; a list such as an ACL compares as one value; a key that is not there is ``MISSING``)."""
    out = {}
    _walk(_keyed(before), _keyed(after), (), out)
    return out


MISSING = _MISSING


def outside(diff, allowed):
    """The changes of ``diff`` whose path is not allowed: ``allowed(path)`` says whether one may change."""
    return {path: change for path, change in diff.items() if not allowed(path)}


def model_bytes(lab):
    with open(lab.model_path, "rb") as fh:
        return fh.read()


# -- labs ----------------------------------------------------------------------------------------------------
class LabRun:
    """A lab in a temporary directory for one hypothesis example (function-scoped pytest fixtures do not
    reset between examples)."""

    def __init__(self, data, base):
        self.dir = os.path.join(str(base), uuid.uuid4().hex[:10])
        os.makedirs(self.dir)
        self.lab = Lab.start(data, os.path.join(self.dir, "lab"))

    def __enter__(self):
        return self.lab

    def __exit__(self, *exc):
        self.lab.stop()


# -- converging a capability ---------------------------------------------------------------------------------
APPLY_MODULES = ("checkpoint_type", "scsi_controller", "backup_integration", "vm_folder_access", "vss_access_control",
                 "cluster_config_store", "csv_placement")
_PREDICTED_KEYS = ("id", "name", "path", "status", "before", "after", "value_name", "sid", "node")


def prediction(result):
    """What check mode must predict of a real run: ``changed``, ``diff``, whether it failed, the task's own
    ``status`` / ``before`` / ``after`` / ``values``, and per item (VM, folder, account) its identity, status,
    ``before`` and ``after``. (cluster_config_store's ``folder_created`` is documented as a real run's only.)"""
    out = {"changed": result.get("changed"), "diff": result.get("diff"), "failed": bool(result.get("failed"))}
    for key in ("status", "before", "after", "values"):
        if key in result:
            out[key] = result[key]
    for key in ("vms", "folders", "accounts"):
        if isinstance(result.get(key), list):
            out[key] = [{k: item[k] for k in _PREDICTED_KEYS if k in item} for item in result[key]]
    return out


class Converged:
    """The three runs of :func:`converge`: ``check``, ``real``, ``second`` (``{host: result}`` of the task),
    the models ``before`` and ``after`` the real run, and ``diff`` between them."""

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def after_node(self, name):
        return next(n for n in self.after["nodes"] if n["name"].upper() == name.upper())


def applied_modules(lab):
    """The runs of apply modules in the journal, but those that carry an empty list of operations (they only ask
    the host something, such as vss_access_control's ``resolve``, which checks the names on every run)."""
    return [entry for entry in lab.journal if entry["module"] in APPLY_MODULES
            and entry["args"].get("operations", None) != []]


def converge(lab, directory, plays, task, applied_only=False, predict=prediction):
    """Check run, real run, second run of ``plays``; the task ``task`` is the capability's. Asserts what holds
    for every capability and returns :class:`Converged`:

    - the check run succeeds, changes nothing (the model file is byte-identical) and sends no apply module but in
      check mode;
    - the real run succeeds; its ``predict`` projection per host is the check run's;
    - the second run succeeds, reports no change, sends no apply module and leaves the model byte-identical.

    ``applied_only``: the task runs on one host of the play (a role's apply step); the others are skipped.
    """
    def results(out):
        found = task_results(out, task)
        if applied_only:
            found = {host: result for host, result in found.items() if not result.get("skipped")}
        return found

    before_bytes, before = model_bytes(lab), lab.read_model()
    lab.clear_journal()
    rc, out = run_playbook(lab, directory, plays, "--check", "--diff")
    assert rc == 0, out
    check = results(out)
    assert model_bytes(lab) == before_bytes, "the check run changed the model"
    # an apply module may run in check mode (vss_access_control's resolve asks the host), never for real
    assert [e for e in applied_modules(lab) if not e["check_mode"]] == [], "the check run sent an apply module"

    lab.clear_journal()
    rc, out = run_playbook(lab, directory, plays, "--diff")
    assert rc == 0, out
    real = results(out)
    after_bytes, after = model_bytes(lab), lab.read_model()
    real_journal = lab.journal
    assert set(check) == set(real)
    for host in real:
        predicted, done = predict(check[host]), predict(real[host])
        for key in sorted(set(predicted) | set(done)):
            assert predicted.get(key) == done.get(key), f"{host}: check mode predicted {key} " \
                                                        f"{predicted.get(key)!r}, the real run gave {done.get(key)!r}"

    lab.clear_journal()
    rc, out = run_playbook(lab, directory, plays, "--diff")
    assert rc == 0, out
    second = results(out)
    assert not any(result.get("changed") for result in second.values()), second
    assert applied_modules(lab) == [], "the second run sent an apply module"
    assert model_bytes(lab) == after_bytes, "the second run changed the model"
    return Converged(check=check, real=real, second=second, before=before, after=after,
                     diff=model_diff(before, after), journal=real_journal)


def assert_names_arrived(lab_or_journal, data, module):
    """Every operation of ``module`` the host received names its VM byte for byte as the model does."""
    journal = lab_or_journal.journal if hasattr(lab_or_journal, "journal") else lab_or_journal
    names = {vm["id"].lower(): vm["name"] for vm in data["vms"]}
    for entry in journal:
        if entry["module"] != module:
            continue
        for op in entry["args"].get("operations") or []:
            assert op["name"] == names[op["id"].lower()], (op, names[op["id"].lower()])


# What a VM name must not be to be given by name in ``vms``: a GUID or what looks like a mistyped one, a glob
# pattern (which may match others too), blank; nor hold a control character (the selection refuses those).
_GUID_LIKE = re.compile(r"^(\{.*|.*\}|[0-9a-fA-F]{8}-[0-9a-fA-F-]*|[0-9a-fA-F]{32})$")


def selectable_by_name(name):
    return bool(name.strip()) and not set("*?[") & set(name) and not _GUID_LIKE.match(name.strip()) \
        and not any(unicodedata.category(c) == "Cc" for c in name)


def guest_members(data):
    """``{folder: [VM IDs]}``: the folders holding VHD Sets (``.vhds``) and the VMs whose disks are there."""
    members = {}
    for vm in data["vms"]:
        for disk in vm.get("hard_disks") or []:
            if str(disk["path"]).lower().endswith(".vhds"):
                members.setdefault(world.directory_name(disk["path"]), []).append(vm["id"])
    return members


def assert_grants_only_added(before, after, sids):
    """``after`` is ``before`` with, for each VM SID of ``sids``, what KB 4230569's ``(OI)F`` needs: nothing when an
    explicit Allow ACE gives it (or an explicit Deny ACE refuses it), the SID's explicit Allow ACE upgraded in
    place, or one explicit ACE added among the ones added before the first inherited ACE (in any order). No other
    ACE is lost, added, changed, duplicated or moved."""
    kept = [world.read_ace(a) for a in before]
    added = []
    for sid in dict.fromkeys(s.upper() for s in sids):
        if any(a["sid"] == sid and not a["allow"] and not a["inherited"] for a in kept):
            continue
        if any(a["sid"] == sid and a["allow"] and not a["inherited"] and a["mask"] & world.FULL_CONTROL == world.FULL_CONTROL
               and a["inheritance"] & 2 and a["propagation"] == 0 for a in kept):
            continue
        index = next((i for i, a in enumerate(kept) if a["sid"] == sid and a["allow"] and not a["inherited"]), None)
        if index is not None:
            ace = kept[index]
            kept[index] = dict(ace, mask=ace["mask"] | world.FULL_CONTROL, inheritance=ace["inheritance"] | 2,
                               propagation=0)
            continue
        added.append({"sid": sid, "mask": world.FULL_CONTROL, "allow": True, "inheritance": 2, "propagation": 0,
                      "inherited": False})
    got = [world.read_ace(a) for a in after]
    position = next((i for i, a in enumerate(kept) if a["inherited"]), len(kept))
    assert len(got) == len(kept) + len(added), (got, kept, added)
    assert got[:position] == kept[:position]
    assert sorted(got[position:position + len(added)], key=lambda a: a["sid"]) == sorted(added, key=lambda a: a["sid"])
    assert got[position + len(added):] == kept[position:]


def vms_of(data, node=None):
    return [vm for vm in data["vms"] if node is None or vm["node"].upper() == node.upper()]


def up_nodes(data):
    return [n["name"] for n in data["nodes"] if n.get("state", "Up") == "Up"]


__all__ = ["cluster_models", "names", "folder_names", "unsafe", "write_playbook", "play", "run_playbook",
           "task_results", "model_diff", "outside", "MISSING", "model_bytes", "LabRun", "host_results"]
