"""The cluster model: a YAML or JSON file holding the state of the simulated world (docs/hvsim.md).

Every endpoint of one hvsim process shares one :class:`Model`. Each request works inside
:meth:`Model.transaction`, which serialises access (a lock per model file inside the process, plus an
``fcntl`` lock on a sidecar ``<file>.lock`` so that separate processes, e.g. a test editing the file, do
not interleave), reloads the file when it changed on disk since it was last read, and saves it atomically
when the operation marked it changed.
"""
import contextlib
import copy
import datetime
import fcntl
import json
import os
import tempfile
import threading

import yaml

from hvsim.world import DISPLAY_LANGUAGES

FAULT_KNOBS = ("latency_ms", "fail_nth", "drop_nth")
# Structured faults, read by the operations from the model data (docs/hvsim.md, "Fault injection").
FAULT_SECTIONS = ("cmdlets", "vanishing_vms", "acl_writers", "vanishing_folders", "registry_writes", "fail_move")
# The keys of one ``faults.cmdlets`` entry and the type each must have.
CMDLET_FAULT_KEYS = {"cmdlet": str, "node": str, "module": str, "vm": str, "after": int, "times": int,
                     "message": str, "ignore": bool, "property": str}
# ``faults.acl_writers``: another program that writes a folder's ACL while vm_folder_access writes it.
ACL_WRITER_KEYS = {"path": str, "sid": str, "rights": str, "node": str, "times": int}
# ``faults.registry_writes``: writes of a registry value that fail.
REGISTRY_WRITE_KEYS = {"node": str, "name": str, "message": str}

_PATH_LOCKS = {}
_PATH_LOCKS_GUARD = threading.Lock()


class ModelError(ValueError):
    """The model file is missing, unreadable or fails validation; the message names the bad value."""


def _path_lock(path):
    with _PATH_LOCKS_GUARD:
        return _PATH_LOCKS.setdefault(path, threading.RLock())


def _where(path):
    return os.path.basename(path)


def validate(data, source="model"):
    """Check the parts of the model every component relies on; raise :class:`ModelError` naming the value."""
    if not isinstance(data, dict):
        raise ModelError(f"{source}: the model must be a mapping, got {type(data).__name__}")

    creds = data.get("credentials")
    if not isinstance(creds, dict) or not isinstance(creds.get("username"), str) \
            or not isinstance(creds.get("password"), str) or not creds.get("username"):
        raise ModelError(f"{source}: 'credentials' must be a mapping with string 'username' and 'password', "
                         f"got {creds!r}")

    nodes = data.get("nodes")
    if not isinstance(nodes, list) or not nodes:
        raise ModelError(f"{source}: 'nodes' must be a non-empty list of nodes, got {nodes!r}")
    seen_nodes = {}
    for index, node in enumerate(nodes):
        if not isinstance(node, dict) or not isinstance(node.get("name"), str) or not node.get("name"):
            raise ModelError(f"{source}: nodes[{index}] must be a mapping with a string 'name', got {node!r}")
        key = node["name"].lower()
        if key in seen_nodes:
            raise ModelError(f"{source}: duplicate node name '{node['name']}' (nodes[{seen_nodes[key]}] and "
                             f"nodes[{index}]; names are case-insensitive)")
        seen_nodes[key] = index
        _validate_node_events(node, f"{source}: nodes[{index}] ({node['name']})")
    _validate_time(data.get("clock"), f"{source}: clock", optional=True)

    vms = data.get("vms", [])
    if vms is None:
        vms = []
    if not isinstance(vms, list):
        raise ModelError(f"{source}: 'vms' must be a list, got {type(vms).__name__}")
    # IDs are unique; names are not. Hyper-V keys a VM by its ID (Msvm_ComputerSystem.Name is the VM GUID;
    # ElementName, the name Get-VM shows, is no key: https://learn.microsoft.com/windows/win32/hyperv_v2/
    # msvm-computersystem), New-VM and Hyper-V Manager accept a name already in use, and Get-VM -Name then
    # returns every VM of that name. Modelled the strict way for a caller: any two VMs may share a name.
    seen_ids = {}
    for index, vm in enumerate(vms):
        if not isinstance(vm, dict):
            raise ModelError(f"{source}: vms[{index}] must be a mapping, got {vm!r}")
        for key in ("id", "name", "node"):
            if not isinstance(vm.get(key), str) or not vm.get(key):
                raise ModelError(f"{source}: vms[{index}] needs a string '{key}', got {vm.get(key)!r}")
        if vm["node"].lower() not in seen_nodes:
            raise ModelError(f"{source}: VM '{vm['name']}' is on unknown node '{vm['node']}' "
                             f"(nodes: {', '.join(n['name'] for n in nodes)})")
        vm_id = vm["id"].lower()
        if vm_id in seen_ids:
            raise ModelError(f"{source}: duplicate VM id '{vm['id']}' (VMs '{seen_ids[vm_id]}' and '{vm['name']}')")
        seen_ids[vm_id] = vm["name"]

    faults = data.get("faults")
    if faults is not None:
        if not isinstance(faults, dict):
            raise ModelError(f"{source}: 'faults' must be a mapping, got {faults!r}")
        for key, value in faults.items():
            if key in FAULT_SECTIONS:
                continue
            if key not in FAULT_KNOBS:
                raise ModelError(f"{source}: unknown fault knob '{key}' "
                                 f"(known: {', '.join(FAULT_KNOBS + FAULT_SECTIONS)})")
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ModelError(f"{source}: faults.{key} must be an integer >= 0, got {value!r}")
        _validate_cmdlet_faults(faults.get("cmdlets"), source)
        vanishing = faults.get("vanishing_vms")
        if vanishing is not None and (not isinstance(vanishing, list)
                                      or not all(isinstance(v, str) and v for v in vanishing)):
            raise ModelError(f"{source}: faults.vanishing_vms must be a list of VM names or IDs, got {vanishing!r}")
        folders = faults.get("vanishing_folders")
        if folders is not None and (not isinstance(folders, list) or not all(isinstance(f, str) and f for f in folders)):
            raise ModelError(f"{source}: faults.vanishing_folders must be a list of folder paths, got {folders!r}")
        _validate_entries(faults.get("acl_writers"), "acl_writers", ACL_WRITER_KEYS,
                          {"path": " (the folder)", "sid": " (the principal the other writer grants)"}, source)
        _validate_entries(faults.get("registry_writes"), "registry_writes", REGISTRY_WRITE_KEYS, {}, source)
    _validate_integration_services(data, source)
    _validate_placement(data, source)
    return data


# The keys of one ``nodes[].events`` entry and the types each may have (docs/hvsim.md, "Events").
EVENT_KEYS = {"log": (str,), "id": (int,), "time": (str, datetime.datetime), "provider": (str,), "level": (int,),
              "message": (str,), "vm_id": (str,), "unreadable": (str,)}


def _mappings(entries, where, known):
    """``(label, entry)`` for each entry of a list of mappings whose keys are all in ``known``; raises
    :class:`ModelError` naming the first that is not."""
    if not isinstance(entries, list):
        raise ModelError(f"{where} must be a list of mappings, got {entries!r}")
    for index, entry in enumerate(entries):
        at = f"{where}[{index}]"
        if not isinstance(entry, dict):
            raise ModelError(f"{at} must be a mapping, got {entry!r}")
        unknown = next((key for key in entry if key not in known), None)
        if unknown is not None:
            raise ModelError(f"{at}: unknown key '{unknown}' (known: {', '.join(known)})")
        yield at, entry


def _validate_time(value, where, optional=False):
    """An ISO 8601 time with a zone (``2026-11-20T06:00:00Z``), as text or as YAML reads it (a datetime)."""
    if value is None and optional:
        return
    if isinstance(value, datetime.datetime):
        return
    if isinstance(value, str):
        try:
            moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return
    raise ModelError(f"{where} must be an ISO 8601 time with a zone, such as '2026-11-20T06:00:00Z', got {value!r}")


def _validate_node_events(node, where):
    """``nodes[].events``: a list of ``{log, id, time, provider?, level?, message?, vm_id?, unreadable?}``;
    ``nodes[].missing_event_logs``: a list of log names."""
    missing = node.get("missing_event_logs")
    if missing is not None and (not isinstance(missing, list) or not all(isinstance(m, str) and m for m in missing)):
        raise ModelError(f"{where}: missing_event_logs must be a list of event log names, got {missing!r}")
    events = node.get("events")
    if events is None:
        return
    for at, event in _mappings(events, f"{where}: events", EVENT_KEYS):
        for key, value in event.items():
            kinds = EVENT_KEYS[key]
            if key == "time":
                _validate_time(value, f"{at}.time")
            elif value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
                raise ModelError(f"{at}.{key} must be {' or '.join(k.__name__ for k in kinds)}, got {value!r}")
        for key in ("log", "id", "time"):
            if event.get(key) in (None, ""):
                raise ModelError(f"{at} needs '{key}'")


def _validate_entries(entries, section, keys, required, source):
    """``faults.<section>``: a list of mappings with ``keys`` (name -> type), each of ``required`` (name -> what
    it is, for the message) given. Returns ``[(where, entry)]`` for the section's own further checks."""
    if entries is None:
        return []
    checked = []
    for where, entry in _mappings(entries, f"{source}: faults.{section}", keys):
        for key, value in entry.items():
            kind = keys[key]
            if kind is int and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ModelError(f"{where}.{key} must be an integer >= 0, got {value!r}")
            if kind is not int and not isinstance(value, kind):
                raise ModelError(f"{where}.{key} must be a {kind.__name__}, got {value!r}")
        for key, what in required.items():
            if not entry.get(key):
                raise ModelError(f"{where} needs a '{key}'{what}")
        checked.append((where, entry))
    return checked


# -- placement keys: memory, disk sizes, owners, balancing settings, failing moves -------------------------
# Cluster settings and their allowed values (Microsoft's cluster common properties).
CLUSTER_SETTINGS = {"csv_balancer": (0, 1), "auto_balancer_mode": (0, 1, 2), "auto_balancer_level": (1, 2, 3),
                    "cluster_enforced_anti_affinity": (0, 1)}
DRAIN_STATUSES = ("NotInitiated", "InProgress", "Completed", "Failed")


def _count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _validate_placement(data, source):
    """The model keys CSV placement reads (docs/hvsim.md): ``cluster.csv_balancer``, ``auto_balancer_mode``,
    ``auto_balancer_level``, ``cluster_enforced_anti_affinity``, ``live_migration_rate``; ``nodes[].memory_capacity``,
    ``drain_status``; ``vms[].memory_assigned``, ``possible_owners``, ``preferred_owners``, ``auto_failback``,
    ``hard_disks[].file_size``; ``faults.fail_move``."""
    cluster = data.get("cluster") or {}
    if isinstance(cluster, dict):
        for key, allowed in CLUSTER_SETTINGS.items():
            value = cluster.get(key)
            if value is not None and (isinstance(value, bool) or value not in allowed):
                raise ModelError(f"{source}: cluster.{key} must be one of {', '.join(map(str, allowed))}, got {value!r}")
        rate = cluster.get("live_migration_rate")
        if rate is not None and (not _count(rate) or rate == 0):
            raise ModelError(f"{source}: cluster.live_migration_rate must be a number of bytes per second above 0, "
                             f"got {rate!r}")
    names = {n["name"].lower() for n in data.get("nodes") or []}
    for index, node in enumerate(data.get("nodes") or []):
        if node.get("memory_capacity") is not None and not _count(node["memory_capacity"]):
            raise ModelError(f"{source}: nodes[{index}].memory_capacity must be a number of bytes, "
                             f"got {node['memory_capacity']!r}")
        if node.get("drain_status") is not None and node["drain_status"] not in DRAIN_STATUSES:
            raise ModelError(f"{source}: nodes[{index}].drain_status must be one of {', '.join(DRAIN_STATUSES)}, "
                             f"got {node['drain_status']!r}")
    for vm in data.get("vms") or []:
        where = f"{source}: VM '{vm['name']}'"
        if vm.get("memory_assigned") is not None and not _count(vm["memory_assigned"]):
            raise ModelError(f"{where}: memory_assigned must be a number of bytes, got {vm['memory_assigned']!r}")
        for key in ("possible_owners", "preferred_owners"):
            owners = vm.get(key)
            if owners is None:
                continue
            if not isinstance(owners, list) or not all(isinstance(o, str) for o in owners):
                raise ModelError(f"{where}: {key} must be a list of node names, got {owners!r}")
            unknown = [o for o in owners if o.lower() not in names]
            if unknown:
                raise ModelError(f"{where}: {key} names unknown node(s) {', '.join(unknown)}")
        if vm.get("auto_failback") not in (None, 0, 1) or isinstance(vm.get("auto_failback"), bool):
            raise ModelError(f"{where}: auto_failback must be 0 or 1, got {vm['auto_failback']!r}")
        for disk in vm.get("hard_disks") or []:
            if isinstance(disk, dict) and disk.get("file_size") is not None and not _count(disk["file_size"]):
                raise ModelError(f"{where}: hard_disks file_size must be a number of bytes, got {disk['file_size']!r}")
    failing = (data.get("faults") or {}).get("fail_move")
    if failing is not None and (not isinstance(failing, list) or not all(isinstance(v, str) and v for v in failing)):
        raise ModelError(f"{source}: faults.fail_move must be a list of VM names or IDs and CSV names, got {failing!r}")


def _validate_cmdlet_faults(entries, source):
    """``faults.cmdlets``: a list of ``{cmdlet, node?, module?, vm?, after?, times?, message?, ignore?,
    property?}``."""
    required = {"cmdlet": " (the cmdlet that fails, e.g. Add-VMScsiController)"}
    for where, entry in _validate_entries(entries, "cmdlets", CMDLET_FAULT_KEYS, required, source):
        if "property" in entry and str(entry["cmdlet"]).lower() != "get-vm":
            raise ModelError(f"{where}: 'property' (a property that throws when read) applies to Get-VM only, "
                             f"not {entry['cmdlet']}")
        if entry.get("ignore") and "property" in entry:
            raise ModelError(f"{where}: 'ignore' and 'property' do not go together")


# Integration services (backup_integration): the display language of each node, which localizes the services'
# names (hvsim.world.DISPLAY_LANGUAGES), and each VM's backup integration service (null: the VM has none).


def _validate_integration_services(data, source):
    for index, node in enumerate(data["nodes"]):
        language = node.get("display_language")
        if language is not None and language not in DISPLAY_LANGUAGES:
            raise ModelError(f"{source}: nodes[{index}].display_language must be one of "
                             f"{', '.join(DISPLAY_LANGUAGES)}, got {language!r}")
    for vm in data.get("vms") or []:
        backup = vm.get("backup_integration", {})
        if backup is not None and not isinstance(backup, dict):
            raise ModelError(f"{source}: VM '{vm['name']}': backup_integration must be a mapping "
                             f"({{enabled, status}}) or null (the VM has no such service), got {backup!r}")


# libyaml's C loader and dumper when PyYAML has them: a 3,000-VM model loads and saves ten times faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def parse(text, source="model"):
    """Parse model text (JSON or YAML) and validate it; returns ``(data, format)``."""
    fmt = "json" if text.lstrip().startswith("{") else "yaml"
    try:
        data = json.loads(text) if fmt == "json" else yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 (a safe loader)
    except (ValueError, yaml.YAMLError) as exc:
        raise ModelError(f"{source}: cannot parse the model as {fmt.upper()}: {exc}") from None
    return validate(data, source), fmt


def dump(data, fmt):
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    return yaml.dump(data, Dumper=_YAML_DUMPER, sort_keys=False, default_flow_style=False, allow_unicode=True, width=120)


def load_file(path):
    """Read and validate a model file without keeping it; returns the data."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise ModelError(f"cannot read the model file {path}: {exc.strerror}") from None
    return parse(text, source=path)[0]


def atomic_write(path, text):
    """Write ``text`` to ``path`` through a temporary file in the same directory, fsync and ``os.replace``."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


class Model:
    """The model file at ``path``, shared by every endpoint of the process."""

    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.lock_path = self.path + ".lock"
        self._lock = _path_lock(self.path)
        self._data = None
        self._format = "json" if self.path.endswith(".json") else "yaml"
        self._stamp = None
        self._dirty = False
        with self.transaction():
            pass

    # -- locking and loading ------------------------------------------------------------------------------
    def _file_stamp(self):
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise ModelError(f"the model file {self.path} does not exist") from None
        return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)

    def _reload_if_changed(self):
        stamp = self._file_stamp()
        if stamp == self._stamp and self._data is not None:
            return
        with open(self.path, encoding="utf-8") as fh:
            text = fh.read()
        data, fmt = parse(text, source=self.path)
        if not self.path.endswith(".json"):
            self._format = fmt
        self._data, self._stamp = data, stamp

    @contextlib.contextmanager
    def _locked(self):
        with self._lock:
            with open(self.lock_path, "a+") as lock_file:
                fcntl.flock(lock_file, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(lock_file, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def transaction(self):
        """Lock, reload if the file changed, yield the data; save if :meth:`mark_changed` was called.

        An exception inside the block discards the in-memory changes (the file is re-read next time).
        """
        with self._locked():
            self._reload_if_changed()
            self._dirty = False
            try:
                yield self._data
            except BaseException:
                self._stamp = None
                self._data = None
                self._dirty = False
                raise
            if self._dirty:
                self._dirty = False
                try:
                    self._save_locked(self._data)
                except BaseException:
                    self._stamp = None
                    self._data = None
                    raise

    def discard(self):
        """Forget in-memory data of the current transaction that was not marked changed (reload next time)."""
        if not self._dirty:
            self._stamp = None
            self._data = None

    def mark_changed(self):
        """Mark the data of the current transaction as changed: it is saved when the transaction ends."""
        self._dirty = True

    def _save_locked(self, data):
        validate(data, source=self.path)
        atomic_write(self.path, dump(data, self._format))
        self._data = data
        self._stamp = self._file_stamp()

    # -- conveniences -------------------------------------------------------------------------------------
    def read(self):
        """A deep copy of the current data."""
        with self.transaction() as data:
            return copy.deepcopy(data)

    def write(self, data):
        """Replace the whole model (validated, saved atomically in the file's format)."""
        with self._locked():
            self._save_locked(copy.deepcopy(data))

    def faults(self):
        """The ``faults`` section as it is on disk now (missing knobs are 0)."""
        with self.transaction() as data:
            faults = data.get("faults") or {}
            return {knob: int(faults.get(knob, 0) or 0) for knob in FAULT_KNOBS}

    def node_names(self):
        with self.transaction() as data:
            return [node["name"] for node in data["nodes"]]

    def credentials(self):
        with self.transaction() as data:
            return data["credentials"]["username"], data["credentials"]["password"]
