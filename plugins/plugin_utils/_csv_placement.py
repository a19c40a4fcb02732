"""Planner of CSV placement: which VMs to live-migrate and which Cluster Shared Volumes to move so that
VMs run on the node that owns their CSV, at least cost. Plain functions over plain data.

Backups that snapshot a CSV once for all its VMs, and hardware VSS providers, need every VM of a CSV on
the node that owns it. ``placement_input(view)`` reads what planning needs from ``cluster_view``;
``plan_placement(problem, options)`` returns the plan; ``render_plan(plan)`` prints it as a table.
``docs/csv-placement.md`` explains all of this for users; the decisions, precisely:

Membership. A VM belongs to the CSV that holds most of its virtual disk bytes (``FileSize`` of each
disk, from Get-VHD). When the size of any of its disks is unknown, its disks are counted instead. A tie
is broken by the CSV that holds its configuration folder (``Path``). A VM with no disk on a CSV, or with
a tie its configuration does not break, is *left alone* with the reason, as are excluded VMs, the VMs of
a CSV that is not Online, and the VMs the cluster cannot move now: not clustered, or in a state other
than Running, Off or Saved (Paused, Starting, Stopping, Saving, ...), or Running with unknown memory
while headroom is checked. Those would otherwise pull their whole CSV (and its other VMs) to them for a
state that passes. Left-alone VMs are never moved and not counted, but their memory and anti-affinity
classes still count.

Decision space. Each CSV gets a target node (its owner after the plan); each VM of a CSV either stays
where it is or moves to its CSV's target. Nothing else moves: moving a VM elsewhere would gain nothing
under the rules below. ``migrate_vms`` fixes every target at the current owner (the field script);
``move_csvs`` at the node that runs the most memory of the CSV's VMs (then most of them; the owner wins a
tie), and the CSV's VMs on other nodes then migrate to it, because the point is to align them;
``auto`` lets every target be the owner or any node that may receive it.

Cost. Live-migrating (or quick-migrating) a running VM costs its memory in bytes (``MemoryAssigned``);
moving a VM that is Off or Saved costs 0 (the cluster moves the role without copying memory) but is
still a move; moving a CSV's ownership costs ``csv_move_cost`` bytes-equivalent (default 16 GiB: about
two typical VMs; the move itself takes seconds, but it pauses I/O on the volume briefly, and the CSV
balancer may move it back).

Objective, lexicographic: (1) fewest VMs of a CSV left off their CSV's owner, (2) least cost, (3) fewest
moves (CSV and VM), (4) keep each CSV where it is, else the node first in name order, compared CSV by
CSV in name order, (5) move the VMs first in name order. (4) and (5) make the optimum unique, so the
plan is deterministic and the tests can compare it move for move with an exhaustive search.

Constraints, never broken, and safe in ANY order and for ANY subset of the plan's moves (moves can fail
one by one, ``max_moves`` defers some, a re-run finishes the job):

- a move's target node is Up and not draining (``State`` Up, ``DrainStatus`` not InProgress); a CSV
  may stay with an owner that is not;
- the VM's possible owners (none listed = every node);
- anti-affinity (``AntiAffinityClassNames``, compared without regard to case): a VM never moves to a node
  where a VM sharing one of its classes runs now or will run after the plan. Moving there after that VM
  leaves would need an order that one failed move breaks, so the planner does not rely on it. Pairs that
  already share a node are not the plan's doing: they are left as they are and listed in the warnings;
- memory headroom (``memory_headroom``, bytes or a percentage of each node's ``MemoryCapacity``; off by
  default): a node that receives running VMs keeps, counting every VM it receives and none that leaves,
  at least the headroom free: ``MemoryCapacity - memory of its running VMs now - memory of the running
  VMs it receives >= headroom``. Departures are not counted, so every intermediate state is safe
  whatever the order and whichever moves fail; a node that must first send VMs away gets the rest of its
  VMs on the next run. A node whose capacity is unknown receives no running VM while headroom is on.

A VM a constraint keeps off its CSV's owner is listed under ``unaligned`` with the reason.

Search. The objective is a sum over nodes of what each node receives (the CSVs that target it, and the
VMs it takes of theirs). A CSV alone on a node is a lower bound of what it adds to any group there (a
node's value is superadditive: what a group may move, each member may move alone), so the sum of each
CSV's best target alone bounds the optimum from below. Each CSV's targets are enumerated lazily in order
of that value, from bounds computed from counts. When the best targets do not compete for a node's
memory or anti-affinity classes, the bound is met and the plan is optimal at once (the common case).
Otherwise the search starts from the best of that plan, ``migrate_vms``'s and ``move_csvs``'s, improves
it by moving one CSV at a time, and then proves or improves it by branch and bound: a CSV whose second
target alone is already worse than the bound by more than the gap keeps its best target; the others are
searched depth first, those whose best targets collide first, their targets in order, cut as soon as
the bound reaches the best plan found. Within a node, which VMs to take (the most VMs, then the least
memory, then the first in name order, within headroom and classes) is exact: smallest first, a group of
VMs that all share a class standing for its lightest, and an enumeration of the rare groups linked by
VMs with several classes. ``search_limit`` (steps: node evaluations and search nodes) bounds the work;
when it is reached the best plan found is returned with ``optimal: false``, never worse than
``migrate_vms`` or ``move_csvs``.

Order. Moves are grouped by CSV: its ownership move, then its VMs (Off and Saved first, then by memory).
Groups go smallest first, so ``max_moves`` completes as many CSVs as it can; the rest is ``deferred``.
A VM move whose CSV moves in the plan names it in ``depends_on``: if that CSV move fails, skip it.

The cluster fights back. The CSV balancer (``CsvBalancer`` 1) may move CSV ownership again; VM load
balancing (``AutoBalancerMode`` 1 on node join, 2 also every 30 minutes, ``AutoBalancerLevel`` 1/2/3 =
above 80/70/60 % load) may move VMs again; a VM whose group allows failback (``AutoFailbackType`` 1) is
moved back to its first preferred owner when that node comes back online. Each move lists what may undo
it under ``may_be_undone_by``; the plan's ``warnings`` say so once. The planner reports; it changes no
cluster setting.
"""
import bisect
import heapq
import itertools
import re

from ansible_collections.hyperv.backup.plugins.plugin_utils._cluster_view import volume_finder
from ansible_collections.hyperv.backup.plugins.plugin_utils._selection import SelectionError, _id_typo, _matches, parse_entry

STRATEGIES = ("auto", "migrate_vms", "move_csvs")
MIGRATION_TYPES = ("live", "quick")
GIB = 2 ** 30
DEFAULT_CSV_MOVE_COST = 16 * GIB
DEFAULT_SEARCH_LIMIT = 20000
MOVABLE_STATES = ("Running", "Off", "Saved")
# States in which a VM holds no host memory (Get-VM's State).
_NO_MEMORY_STATES = ("Off", "Saved", "OffCritical", "SavedCritical", "FastSaved", "FastSavedCritical")
# Percent of load above which VM load balancing acts, per AutoBalancerLevel (Microsoft's
# "clusters-autobalancerlevel" page: 1 low = 80 %, 2 medium = 70 %, 3 high = 60 %).
_BALANCER_THRESHOLD = {1: 80, 2: 70, 3: 60}
_PERCENT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
# Widths of the fields of an objective value packed into one integer (see _Planner.value).
_MOVES_WIDTH = 1 << 32
_COST_WIDTH = 1 << 96
_MAX_COST = 1 << 62


class PlacementError(ValueError):
    """Input or options that cannot be planned; the message names the bad value."""


def fmt_bytes(value):
    """``8589934592`` -> ``8.0 GiB`` (``?`` when unknown)."""
    if value is None:
        return "?"
    for unit, size in (("TiB", 2 ** 40), ("GiB", GIB), ("MiB", 2 ** 20)):
        if abs(value) >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value} B"


# ---------------------------------------------------------------------------------------------------------
# From the cluster view to the planner's input


def home_volume(vm, find):
    """The CSV a VM belongs to: ``(name, why)``, or ``(None, why not)``. See the module docstring.
    ``find`` is ``volume_finder(shared volumes)``."""
    disks = vm.get("HardDisks") or []
    sizes_known = bool(disks) and all(isinstance(d.get("FileSize"), int) and not isinstance(d.get("FileSize"), bool)
                                      and d["FileSize"] >= 0 for d in disks)
    weight = {}
    for disk in disks:
        csv = find(disk.get("Path"))
        if csv:
            weight[csv["Name"]] = weight.get(csv["Name"], 0) + (disk["FileSize"] if sizes_known else 1)
    if not weight:
        return None, "it has no virtual disk" if not disks else "none of its virtual disks is on a CSV"
    measure = "disk bytes" if sizes_known else "disks (some disk sizes are unknown)"
    best = max(weight.values())
    tied = sorted(name for name, value in weight.items() if value == best)
    if len(tied) == 1:
        return tied[0], f"{tied[0]} holds most of its {measure}"
    config = find(vm.get("Path"))
    if config and config["Name"] in tied:
        return config["Name"], f"its {measure} are split evenly; its configuration is on {config['Name']}"
    return None, f"its {measure} are split evenly between {' and '.join(tied)} and its configuration is on neither"


def _role_index(cluster):
    """VM roles by VM ID, and by name those whose VM ID was not read (names need not be unique)."""
    by_id, by_name = {}, {}
    for role in cluster.get("VMRoles") or []:
        if role.get("VMId"):
            by_id.setdefault(str(role["VMId"]).lower(), role)
        elif role.get("Name"):
            by_name.setdefault(str(role["Name"]).upper(), role)
    return by_id, by_name


def _held_memory(vm):
    """Host memory the VM holds now: MemoryAssigned, else MemoryStartup while it is not off, else None."""
    assigned = vm.get("MemoryAssigned")
    if isinstance(assigned, int) and assigned > 0:
        return assigned
    if vm.get("State") in _NO_MEMORY_STATES:
        return 0
    startup = vm.get("MemoryStartup")
    return startup if isinstance(startup, int) and startup > 0 else None


_COMPLETE_VIEW = ("the hyperv.backup.csv_affinity role and playbooks/rebalance_csv.yml do both, with every node of "
                  "the cluster in the play")


def placement_input(view):
    """``cluster_view(...)`` -> the planner's input ``{'nodes', 'csvs', 'vms', 'balancer', 'warnings'}``.

    Reads, with these defaults when a key is absent: per node (``cluster.Nodes``) ``State`` (Up),
    ``DrainStatus`` (NotInitiated) and ``MemoryCapacity`` from the node's own facts (unknown); per CSV
    ``Name``, ``OwnerNode``, ``State`` (Online), ``Path``; per VM ``State``, ``MemoryAssigned`` (else
    ``MemoryStartup`` while not off), ``HardDisks[].FileSize`` (else disks are counted), ``IsClustered``
    (true), ``AntiAffinityClassNames`` ([]), and ``PossibleOwners`` (every node), ``PreferredOwners`` ([])
    and ``AutoFailbackType`` (0) from the VM entry or else from its cluster role (``VMRoles``, by VMId,
    then name); ``CsvBalancer``, ``AutoBalancerMode``, ``AutoBalancerLevel`` from the cluster (unknown).

    Raises :class:`PlacementError` when the view has no cluster, or when a node that is Up reported no
    facts (the plan would not know its VMs).
    """
    if not isinstance(view, dict) or not isinstance(view.get("cluster"), dict):
        raise PlacementError(
            "csv_placement: the cluster view has no failover cluster; gather hyperv.backup.host_facts with the "
            "'cluster' and 'vms' subsets on every node of the cluster and build the view with the "
            f"hyperv.backup.cluster_view filter ({_COMPLETE_VIEW})"
        )
    cluster = view["cluster"]
    member_nodes = cluster.get("Nodes") or []
    missing = {str(n).upper() for n in cluster.get("MissingNodes") or []}
    unseen = [n["Name"] for n in member_nodes if str(n["Name"]).upper() in missing and n.get("State", "Up") == "Up"]
    if unseen:
        raise PlacementError(
            f"csv_placement: the cluster view is incomplete: {', '.join(unseen)} "
            f"{'is' if len(unseen) == 1 else 'are'} Up but reported no facts, so the VMs running there are unknown; "
            f"gather hyperv.backup.host_facts on every node of cluster {cluster.get('Name')} (all hosts of the "
            f"inventory group) and pass all of the results to the cluster_view filter ({_COMPLETE_VIEW})"
        )
    node_facts = {str(name).upper(): facts.get("node") or {} for name, facts in (view.get("nodes") or {}).items()}
    nodes = []
    for node in member_nodes:
        capacity = node_facts.get(str(node["Name"]).upper(), {}).get("MemoryCapacity")
        nodes.append({
            "name": node["Name"],
            "state": node.get("State", "Up"),
            "drain_status": node.get("DrainStatus") or "NotInitiated",
            "memory_capacity": capacity if isinstance(capacity, int) and not isinstance(capacity, bool) else None,
        })
    volumes = cluster.get("SharedVolumes") or []
    csvs = [{"name": v["Name"], "owner": v.get("OwnerNode"), "state": v.get("State", "Online"), "path": v.get("Path")}
            for v in volumes]
    by_id, by_name = _role_index(cluster)
    find = volume_finder(volumes)
    vms = []
    for vm in view.get("vms") or []:
        role = by_id.get(str(vm.get("Id", "")).lower()) or by_name.get(str(vm.get("Name", "")).upper()) or {}

        def pick(key, default, vm=vm, role=role):
            if vm.get(key) is not None:
                return vm[key]
            return role.get(key) if role.get(key) is not None else default

        home, why = home_volume(vm, find)
        vms.append({
            "id": str(vm["Id"]).lower(),
            "name": vm["Name"],
            "node": vm.get("Node"),
            "state": vm.get("State", "Running"),
            "memory": _held_memory(vm),
            "csv": home,
            "csv_reason": why,
            "clustered": bool(vm.get("IsClustered", True)),
            "anti_affinity": list(pick("AntiAffinityClassNames", [])),
            "possible_owners": list(pick("PossibleOwners", [])),
            "preferred_owners": list(pick("PreferredOwners", [])),
            "auto_failback": pick("AutoFailbackType", 0) == 1,
        })
    balancer = {key: cluster.get(key) for key in ("CsvBalancer", "AutoBalancerMode", "AutoBalancerLevel")}
    return {"nodes": nodes, "csvs": csvs, "vms": vms, "balancer": balancer, "warnings": list(view.get("warnings") or [])}


# ---------------------------------------------------------------------------------------------------------
# Options


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def check_options(options=None):
    """Validate and complete the options; raises :class:`PlacementError` naming the bad value.

    ``strategy`` (auto), ``csv_move_cost`` (bytes, 16 GiB), ``migration_type`` (live), ``memory_headroom``
    (None: off; bytes; or ``'10%'`` of each node's capacity), ``max_moves`` (None: no limit), ``exclude``
    (VM names, glob patterns or IDs), ``search_limit`` (steps of the exact search).
    """
    options = dict(options or {})
    result = {
        "strategy": options.pop("strategy", None) or "auto",
        "csv_move_cost": options.pop("csv_move_cost", None),
        "migration_type": options.pop("migration_type", None) or "live",
        "memory_headroom": options.pop("memory_headroom", None),
        "max_moves": options.pop("max_moves", None),
        "exclude": options.pop("exclude", None) or [],
        "search_limit": options.pop("search_limit", None),
    }
    if options:
        raise PlacementError(f"csv_placement: unknown option(s) {', '.join(sorted(options))}")
    if result["strategy"] not in STRATEGIES:
        raise PlacementError(f"strategy: unknown value {result['strategy']!r}; choose from {', '.join(STRATEGIES)}")
    if result["migration_type"] not in MIGRATION_TYPES:
        raise PlacementError(
            f"migration_type: unknown value {result['migration_type']!r}; choose from {', '.join(MIGRATION_TYPES)}")
    cost = result["csv_move_cost"]
    if cost is None:
        result["csv_move_cost"] = DEFAULT_CSV_MOVE_COST
    elif not _is_int(cost) or not 0 <= cost <= _MAX_COST:
        raise PlacementError(f"csv_move_cost: {cost!r} must be a number of bytes from 0 to {_MAX_COST}")
    headroom = result["memory_headroom"]
    if headroom is not None:
        match = _PERCENT_RE.match(headroom) if isinstance(headroom, str) else None
        if match:
            percent = float(match.group(1))
            if percent > 100:
                raise PlacementError(f"memory_headroom: {headroom!r} is more than 100%")
            result["memory_headroom"] = ("percent", percent)
        elif _is_int(headroom) and 0 <= headroom <= _MAX_COST:
            result["memory_headroom"] = ("bytes", headroom)
        else:
            raise PlacementError(
                f"memory_headroom: {headroom!r} must be a number of bytes or a percentage such as '10%'")
    moves = result["max_moves"]
    if moves is not None and (not _is_int(moves) or moves < 0):
        raise PlacementError(f"max_moves: {moves!r} must be a whole number of 0 or more")
    limit = result["search_limit"]
    if limit is None:
        result["search_limit"] = DEFAULT_SEARCH_LIMIT
    elif not _is_int(limit) or limit < 1:
        raise PlacementError(f"search_limit: {limit!r} must be a whole number of 1 or more")
    exclude = result["exclude"]
    if isinstance(exclude, str):
        exclude = [exclude]
    if not isinstance(exclude, (list, tuple)):
        raise PlacementError(f"exclude: {exclude!r} must be a list of VM names, patterns or IDs")
    try:
        result["exclude"] = [parse_entry(entry, "exclude") for entry in exclude]
    except SelectionError as err:
        raise PlacementError(str(err)) from None
    return result


# ---------------------------------------------------------------------------------------------------------
# The planner


class _Budget(Exception):
    """The search limit was reached."""


class _Planner:
    """One planning run. Nodes, CSVs and VMs are numbered in name order (VMs by name, then ID)."""

    def __init__(self, problem, opts):
        self.opts = opts
        self.csv_cost = opts["csv_move_cost"]
        self.steps = 0
        self.stop_at = opts["search_limit"]  # the step at which the search stops
        self.unlimited = False
        self.exhausted = False
        self.search = {"steps": 0, "bound_met": True, "csvs_searched": 0, "nodes_explored": 0}
        self.warnings = list(problem.get("warnings") or [])
        self._read_nodes(problem)
        self._read_csvs(problem)
        self._read_vms(problem)
        self.balancer = dict(problem.get("balancer") or {})
        count = len(self.csvs)
        self.tb_base = (len(self.nodes) + 1) ** count
        self.tb_weight = [(len(self.nodes) + 1) ** (count - 1 - c) for c in range(count)]
        self._split_memo = {}
        self._g_memo = {}

    # -- input -------------------------------------------------------------------------------------

    def _node_index(self, name):
        if name is None:
            return None
        key = str(name).upper()
        if key not in self.node_by_key:
            self.node_by_key[key] = len(self.nodes)
            self.nodes.append({"name": str(name), "state": "Unknown", "drain_status": None, "capacity": None,
                               "known": False})
        return self.node_by_key[key]

    def _read_nodes(self, problem):
        raw = sorted(problem.get("nodes") or [], key=lambda n: str(n["name"]).upper())
        self.nodes, self.node_by_key = [], {}
        for node in raw:
            capacity = node.get("memory_capacity")
            self.node_by_key[str(node["name"]).upper()] = len(self.nodes)
            self.nodes.append({"name": node["name"], "state": node.get("state") or "Up",
                               "drain_status": node.get("drain_status") or "NotInitiated",
                               "capacity": capacity if _is_int(capacity) else None, "known": True})

    def _read_csvs(self, problem):
        raw = sorted(problem.get("csvs") or [], key=lambda c: (str(c["name"]).upper(), str(c["name"])))
        self.csvs, self.csv_by_name = [], {}
        for csv in raw:
            self.csv_by_name[str(csv["name"]).upper()] = len(self.csvs)
            self.csvs.append({"name": csv["name"], "owner": self._node_index(csv.get("owner")),
                              "state": csv.get("state") or "Online", "members": []})

    def _read_vms(self, problem):
        raw = sorted(problem.get("vms") or [], key=lambda v: (str(v["name"]).upper(), str(v["id"]).lower()))
        headroom = self.opts["memory_headroom"]
        self.vms, self.left_alone = [], []
        self.classes_at = {}
        self.class_nodes = {}
        for kind, value in self.opts["exclude"]:
            # Looks like a mistyped VM ID: fine only when a VM is really named so.
            if kind == "idlike" and not any(_matches(kind, value, {"Id": vm["id"], "Name": vm["name"]}) for vm in raw):
                raise PlacementError(str(_id_typo("exclude", value)))
        for index, vm in enumerate(raw):
            state = vm.get("state") or "Running"
            memory = vm.get("memory")
            memory = memory if _is_int(memory) and memory >= 0 else None
            if state in _NO_MEMORY_STATES:
                memory = 0
            owners = vm.get("possible_owners") or []
            entry = {
                "index": index, "id": str(vm["id"]).lower(), "name": vm["name"], "node": self._node_index(vm.get("node")),
                "state": state, "memory": memory,
                "weight": (memory or 0) if state == "Running" else 0,
                "classes": frozenset(str(c).casefold() for c in vm.get("anti_affinity") or []),
                "class_names": {str(c).casefold(): str(c) for c in vm.get("anti_affinity") or []},
                "possible": {self._node_index(o) for o in owners} if owners else None,
                "possible_names": list(owners),
                "preferred": list(vm.get("preferred_owners") or []),
                "failback": bool(vm.get("auto_failback")),
                "csv": None,
            }
            self.vms.append(entry)
            if memory is None and state == "Running":
                self.warnings.append(f"the memory of {vm['name']} is unknown: its migration is costed at 0"
                                     + (" and it is not moved, since the memory headroom cannot be checked" if headroom else ""))
            for cls in entry["classes"]:
                self.classes_at.setdefault((entry["node"], cls), []).append(index)
                on = self.class_nodes.setdefault(cls, {})
                on[entry["node"]] = on.get(entry["node"], 0) + 1
            reason = self._left_alone_reason(vm, entry)
            if reason:
                self.left_alone.append((index, reason))
                continue
            csv_index = self.csv_by_name[str(vm["csv"]).upper()]
            entry["csv"] = csv_index
            self.csvs[csv_index]["members"].append(index)

    def _left_alone_reason(self, vm, entry):
        for kind, value in self.opts["exclude"]:
            if _matches(kind, value, {"Id": entry["id"], "Name": entry["name"]}):
                return "excluded"
        if not vm.get("csv"):
            return vm.get("csv_reason") or "none of its virtual disks is on a CSV"
        key = str(vm["csv"]).upper()
        if key not in self.csv_by_name:
            return f"{vm['csv']} is not a CSV of the cluster"
        csv = self.csvs[self.csv_by_name[key]]
        if csv["state"] != "Online":
            return f"its CSV {csv['name']} is {csv['state']}"
        if csv["owner"] is None:
            return f"its CSV {csv['name']} has no owner"
        # What the cluster cannot move now is left alone rather than counted: moving a whole CSV to a
        # VM that is Paused, or is stopping, would move many VMs for one that will soon be movable.
        if not vm.get("clustered", True):
            return "it is not a clustered role, so the cluster cannot move it"
        if entry["state"] not in MOVABLE_STATES:
            return f"it is {entry['state']}; only Running, Off and Saved VMs are moved"
        if entry["memory"] is None and entry["state"] == "Running" and self.opts["memory_headroom"]:
            return "its memory is unknown, so the memory headroom cannot be checked"
        return None

    def prepare(self):
        """Per node: can it receive moves, and the memory it may still receive (None: unlimited)."""
        headroom = self.opts["memory_headroom"]
        used = [0] * len(self.nodes)
        for vm in self.vms:
            if vm["node"] is not None:
                used[vm["node"]] += vm["memory"] or 0
        unknown = []
        for index, node in enumerate(self.nodes):
            node["used"] = used[index]
            if not node["known"]:
                node["why_not"] = f"{node['name']} is not a node of the cluster"
            elif node["state"] != "Up":
                node["why_not"] = f"{node['name']} is {node['state']}"
            elif node["drain_status"] == "InProgress":
                node["why_not"] = f"{node['name']} is draining"
            else:
                node["why_not"] = None
            if headroom is None:
                node["slack"], node["headroom"] = None, None
                continue
            if node["capacity"] is None:
                node["slack"], node["headroom"] = 0, None
                if node["why_not"] is None:
                    unknown.append(node["name"])
                continue
            kind, amount = headroom
            reserve = amount if kind == "bytes" else -(-int(node["capacity"] * amount * 100) // 10000)
            node["headroom"] = reserve
            node["slack"] = max(0, node["capacity"] - reserve - used[index])
        if unknown:
            self.warnings.append(f"the memory capacity of {', '.join(unknown)} is unknown: with memory_headroom set, "
                                 "no running VM is moved there")

    # -- constraints ---------------------------------------------------------------------------------

    def blocked(self, v, t):
        """True when VM ``v`` cannot move to node ``t`` whatever else the plan does."""
        vm, node = self.vms[v], self.nodes[t]
        if node["why_not"]:
            return True
        if vm["possible"] is not None and t not in vm["possible"]:
            return True
        if any(self.class_nodes[cls].get(t) for cls in vm["classes"]):
            return True
        return node["slack"] is not None and vm["weight"] > node["slack"]

    def static_reason(self, v, t):
        """Why VM ``v`` cannot move to node ``t`` whatever else the plan does, or None (for the report)."""
        vm, node = self.vms[v], self.nodes[t]
        reason = node["why_not"]
        if reason is None and vm["possible"] is not None and t not in vm["possible"]:
            reason = f"{node['name']} is not among its possible owners ({', '.join(vm['possible_names'])})"
        if reason is None:
            for cls in sorted(vm["classes"]):
                other = [w for w in self.classes_at.get((t, cls), []) if w != v]
                if other:
                    reason = (f"anti-affinity class {vm['class_names'][cls]!r}: {self.vms[other[0]]['name']} "
                              f"runs on {node['name']}")
                    break
        if reason is None and node["slack"] is not None and vm["weight"] > node["slack"]:
            reason = (f"{node['name']} would keep less than the memory headroom ({fmt_bytes(node['headroom'])}) free"
                      if node["capacity"] is not None else f"the memory capacity of {node['name']} is unknown")
        return reason

    def split(self, c, t):
        """CSV ``c`` targeting node ``t``: ``(candidates, blocked)``, the VMs not on ``t`` that may move
        there and the number of those that may not."""
        key = (c, t)
        found = self._split_memo.get(key)
        if found is None:
            csv = self.csvs[c]
            if "plain" not in csv:  # members with nothing but their memory to check, lightest first
                plain = [v for v in csv["members"] if self.vms[v]["possible"] is None and not self.vms[v]["classes"]]
                csv["plain"] = sorted(((self.vms[v]["weight"], v, self.vms[v]["node"]) for v in plain))
                csv["special"] = [v for v in csv["members"] if v not in set(plain)]
            away = sum(1 for v in csv["members"] if self.vms[v]["node"] != t)
            if self.nodes[t]["why_not"] is not None:
                candidates = []
            else:
                slack = self.nodes[t]["slack"]
                candidates = [v for w, v, node in csv["plain"] if node != t and (slack is None or w <= slack)]
                candidates += [v for v in csv["special"] if self.vms[v]["node"] != t and not self.blocked(v, t)]
            found = self._split_memo[key] = (candidates, away - len(candidates))
        return found

    def tick(self, amount=1):
        self.steps += amount
        if self.steps > self.stop_at and not self.unlimited:
            raise _Budget()

    def pick(self, items, slack):
        """Which of the candidate VMs ``items`` (VM numbers) a node takes: the most VMs, then the least
        memory, then the first in name order, within ``slack`` bytes (None: unlimited) and with no two
        sharing an anti-affinity class. Returns the chosen VMs, sorted.

        Exact: without classes, smallest first is optimal. VMs whose classes collide form components; in a
        component where every two share a class at most one can go, and the lightest (then first) is the
        best, so it stands for the others. Only the rare components that are not such cliques (VMs with
        several classes) are enumerated, each combination completed smallest first."""
        vms = self.vms
        by_class = {}
        for v in items:
            for cls in vms[v]["classes"]:
                by_class.setdefault(cls, []).append(v)
        shared = [group for group in by_class.values() if len(group) > 1]
        free, complex_parts = items, []
        if shared:
            parent = {}

            def find(x):
                while parent.setdefault(x, x) != x:
                    parent[x] = parent[parent[x]]
                    x = parent[x]
                return x

            for group in shared:
                for v in group[1:]:
                    parent[find(v)] = find(group[0])
            parts = {}
            for v in parent:
                parts.setdefault(find(v), []).append(v)
            free = [v for v in items if v not in parent]
            for part in parts.values():
                part.sort()
                if all(vms[a]["classes"] & vms[b]["classes"] for a, b in itertools.combinations(part, 2)):
                    free.append(min(part, key=lambda v: (vms[v]["weight"], v)))
                else:
                    complex_parts.append(part)
        free = sorted(free, key=lambda v: (vms[v]["weight"], v))
        prefix = [0]
        for v in free:
            prefix.append(prefix[-1] + vms[v]["weight"])

        def fill(room):
            if room is None:
                return len(free)
            return bisect.bisect_right(prefix, room) - 1

        if not complex_parts:
            return sorted(free[:fill(slack)])
        best_key, best = None, None
        try:
            choices = [self._independent_sets(part) for part in complex_parts]
            for combo in itertools.product(*choices):
                self.tick()
                taken = [v for subset in combo for v in subset]
                weight = sum(vms[v]["weight"] for v in taken)
                if slack is not None and weight > slack:
                    continue
                count = fill(None if slack is None else slack - weight)
                picked = sorted(taken + free[:count])
                key = (-len(picked), weight + prefix[count], picked)
                if best_key is None or key < best_key:
                    best_key, best = key, picked
        except _Budget:
            self.exhausted = True
            if best is None:
                best = sorted(free[:fill(slack)])
        return best

    def _independent_sets(self, part):
        """Every subset of ``part`` (VM numbers) in which no two VMs share an anti-affinity class."""
        vms = self.vms
        found = []

        def walk(i, taken, used):
            if i == len(part):
                found.append(taken)
                return
            self.tick()
            v = part[i]
            if not vms[v]["classes"] & used:
                walk(i + 1, taken + [v], used | vms[v]["classes"])
            walk(i + 1, taken, used)

        walk(0, [], frozenset())
        return found

    # -- objective -----------------------------------------------------------------------------------

    def rank(self, c, t):
        """0 for keeping CSV ``c`` on its owner, else 1 + the node's number."""
        return 0 if t == self.csvs[c]["owner"] else 1 + t

    def value(self, unaligned, cost, moves, tb):
        """The objective packed into one integer that orders like the tuple (unaligned, cost, moves, tb)."""
        return ((unaligned * _COST_WIDTH + cost) * _MOVES_WIDTH + moves) * self.tb_base + tb

    def g(self, t, group):
        """The value of node ``t`` receiving the CSVs ``group`` (a frozenset): their VMs that may not move
        there, the ownership moves, and the VMs the node takes. Returns ``(value, chosen, candidates)``."""
        key = (t, group)
        hit = self._g_memo.get(key)
        if hit is not None:
            return hit
        self.tick()
        unaligned = cost = moves = tb = 0
        items = []
        for c in group:
            candidates, blocked = self.split(c, t)
            unaligned += blocked
            items.extend(candidates)
            if t != self.csvs[c]["owner"]:
                cost += self.csv_cost
                moves += 1
            tb += self.rank(c, t) * self.tb_weight[c]
        chosen = self.pick(items, self.nodes[t]["slack"]) if items else []
        unaligned += len(items) - len(chosen)
        cost += sum(self.vms[v]["weight"] for v in chosen)
        moves += len(chosen)
        result = (self.value(unaligned, cost, moves, tb), chosen, items)
        self._g_memo[key] = result
        return result

    def local(self, c, t):
        return self.g(t, frozenset((c,)))[0]

    # -- targets -------------------------------------------------------------------------------------

    def receivable(self, c):
        return self.csvs[c]["state"] == "Online" and self.csvs[c]["owner"] is not None

    def heaviest(self, c):
        """``move_csvs``: the node running most of the memory of CSV ``c``'s VMs (then most VMs; owner first)."""
        csv = self.csvs[c]
        load = {}
        for v in csv["members"]:
            node = self.vms[v]["node"]
            if node is None:
                continue
            memory, count = load.get(node, (0, 0))
            load[node] = (memory + self.vms[v]["weight"], count + 1)
        choices = [t for t in load if t == csv["owner"] or self.nodes[t]["why_not"] is None]
        if not choices or not self.receivable(c):
            return csv["owner"]
        return min(choices, key=lambda t: (-load[t][0], -load[t][1], self.rank(c, t)))

    def options_start(self, c):
        """Lazy enumeration of CSV ``c``'s targets in order of their value alone (``auto``): every target
        starts with a lower bound of its value, computed from counts, and is evaluated when it comes first."""
        csv = self.csvs[c]
        members = csv["members"]
        weights = sorted(self.vms[v]["weight"] for v in members)
        prefix = list(itertools.accumulate(weights, initial=0))
        total = prefix[-1]
        on = {}
        for v in members:
            memory, count = on.get(self.vms[v]["node"], (0, 0))
            on[self.vms[v]["node"]] = (memory + self.vms[v]["weight"], count + 1)
        heap = []
        for t, node in enumerate(self.nodes):
            if t != csv["owner"] and node["why_not"] is not None:
                continue
            here_memory, here_count = on.get(t, (0, 0))
            away = len(members) - here_count
            if node["why_not"] is not None:
                may_move = 0
            else:
                may_move = away
                if node["slack"] is not None:  # no more than fit, even taking the lightest members
                    may_move = min(may_move, bisect.bisect_right(prefix, node["slack"]) - 1)
            moving = int(t != csv["owner"])
            short = away - may_move
            # With exactly ``short`` left behind, the other members away from t all move: at least the
            # lightest that many members' memory (exactly theirs when none is left behind).
            cost = total - here_memory if not short else prefix[away - short]
            bound = self.value(short, moving * self.csv_cost + cost, moving + away - short,
                               self.rank(c, t) * self.tb_weight[c])
            heap.append((bound, t, False))
        heapq.heapify(heap)
        return {"heap": heap, "done": []}

    def option_bound(self, c, i):
        """A lower bound of the value of CSV ``c``'s ``i``-th best target, without evaluating it (None: no
        such target)."""
        state = self.enum[c]
        if i < len(state["done"]):
            return state["done"][i][0]
        return state["heap"][0][0] if state["heap"] else None

    def option(self, c, i):
        """The ``i``-th best target of CSV ``c`` (by its value alone) as ``(value, node)``, or None."""
        state = self.enum[c]
        while len(state["done"]) <= i and state["heap"]:
            key, t, exact = heapq.heappop(state["heap"])
            if exact:
                state["done"].append((key, t))
            else:
                heapq.heappush(state["heap"], (self.local(c, t), t, True))
        return state["done"][i] if i < len(state["done"]) else None

    # -- search --------------------------------------------------------------------------------------

    def total(self, at):
        return sum(self.g(t, group)[0] for t, group in at.items() if group and t is not None)

    @staticmethod
    def grouped(targets):
        at = {}
        for c, t in enumerate(targets):
            at.setdefault(t, set()).add(c)
        return {t: frozenset(group) for t, group in at.items()}

    def solve(self):
        """Targets of every CSV; sets ``self.exhausted`` when the search limit cut it short."""
        strategy = self.opts["strategy"]
        count = len(self.csvs)
        owners = [csv["owner"] for csv in self.csvs]
        if strategy == "migrate_vms" or count == 0:
            return owners
        heaviest = [self.heaviest(c) for c in range(count)]
        if strategy == "move_csvs":
            return heaviest
        # What the two simple strategies would do: the plan to beat, and the answer if the limit stops
        # the search early.
        start = min((self.total(self.grouped(t)), t) for t in (heaviest, owners))
        self.fallback = start[1]
        # A CSV that is not Online has no VMs to align (they are left alone): it stays, at value 0.
        self.enum = [self.options_start(c) if self.receivable(c) else {"heap": [], "done": [(0, owners[c])]}
                     for c in range(count)]
        best = [self.option(c, 0) for c in range(count)]
        bound = sum(value for value, _target in best)
        targets = [t for _value, t in best]
        current = self.total(self.grouped(targets))
        if current == bound:
            return targets
        self.search["bound_met"] = False
        if start[0] < current:
            current, targets = start[0], list(start[1])
        self.fallback = targets
        targets, current = self.improve(targets, current, bound)
        if current == bound:
            return targets
        return self.branch_and_bound(targets, current, best, current - bound)

    def conflicted(self, at):
        """Nodes whose value is more than the sum of their CSVs' values alone."""
        return {t for t, group in at.items()
                if group and t is not None and self.g(t, group)[0] != sum(self.local(c, t) for c in group)}

    def improve(self, targets, current, bound, tries=8):
        """Local search: move one CSV at a time, among those on a conflicted node, to whichever of its
        ``tries`` best targets lowers the total most; sweep until no move helps. What a CSV adds to a node
        is at least its value alone there, so targets (in order of that value) stop being tried as soon
        as that alone outweighs what leaving its node saves."""
        targets = list(targets)
        at = self.grouped(targets)
        while current != bound:
            improved = False
            for c in sorted(c for t in self.conflicted(at) for c in at[t]):
                here = targets[c]
                rest = at[here] - {c}
                saved = self.g(here, at[here])[0] - (self.g(here, rest)[0] if rest else 0)
                best_delta, best_there = 0, None
                for i in range(tries):
                    low = self.option_bound(c, i)
                    if low is None or low - saved >= best_delta:
                        break
                    found = self.option(c, i)
                    if found is None or found[0] - saved >= best_delta:
                        break
                    there = found[1]
                    if there == here:
                        continue
                    group = at.get(there, frozenset())
                    delta = self.g(there, group | {c})[0] - (self.g(there, group)[0] if group else 0) - saved
                    if delta < best_delta:
                        best_delta, best_there = delta, there
                if best_there is None:
                    continue
                at[here] = rest
                at[best_there] = at.get(best_there, frozenset()) | {c}
                targets[c] = best_there
                current += best_delta
                improved = True
                self.fallback = list(targets)
            if not improved:
                break
        return targets, current

    def branch_and_bound(self, targets, current, best, gap):
        """Exact search. A CSV whose second-best target alone already exceeds the best by more than the
        gap between ``targets`` and the lower bound is fixed at its best; the others are searched depth
        first, those on a conflicted node first, their targets in order of value, enumerated lazily and
        cut as soon as the bound reaches the best plan found."""
        count = len(self.csvs)
        variable = []
        for c in range(count):
            low = self.option_bound(c, 1)
            if low is None or low - best[c][0] > gap:
                continue
            second = self.option(c, 1)
            if second is not None and second[0] - best[c][0] <= gap:
                variable.append(c)
        chosen = set(variable)
        # First the CSVs whose best targets collide (those conflicts are what costs more than the bound).
        hot = self.conflicted(self.grouped([t for _value, t in best])) | self.conflicted(self.grouped(targets))
        order = sorted(variable, key=lambda c: (best[c][1] not in hot and targets[c] not in hot, c))
        self.search["csvs_searched"] = len(order)
        at = {}
        for c in range(count):
            if c not in chosen and targets[c] is not None:
                at[targets[c]] = at.get(targets[c], frozenset()) | {c}
        state = {"value": current, "assign": {c: targets[c] for c in order}}
        assign = {}

        def dfs(i, gsum, rest):
            self.search["nodes_explored"] += 1
            self.tick()
            if gsum + rest >= state["value"]:
                return
            if i == len(order):
                state["value"], state["assign"] = gsum, dict(assign)
                return
            c = order[i]
            floor = best[c][0]
            rest -= floor
            for k in itertools.count():
                low = self.option_bound(c, k)
                if low is None or low - floor > gap or gsum + low + rest >= state["value"]:
                    break  # targets come in order of value, and what c adds is at least its value alone
                found = self.option(c, k)
                if found is None or found[0] - floor > gap or gsum + found[0] + rest >= state["value"]:
                    break
                t = found[1]
                group = at.get(t, frozenset())
                moved = gsum - (self.g(t, group)[0] if group else 0) + self.g(t, group | {c})[0]
                if moved + rest >= state["value"]:
                    continue
                at[t] = group | {c}
                assign[c] = t
                dfs(i + 1, moved, rest)
                at[t] = group
                del assign[c]

        try:
            dfs(0, self.total(at), sum(best[c][0] for c in order))
        except _Budget:
            self.exhausted = True
        result = list(targets)
        for c, t in state["assign"].items():
            result[c] = t
        return result

    # -- the plan ------------------------------------------------------------------------------------

    def run(self):
        self.prepare()
        self.fallback = [csv["owner"] for csv in self.csvs]
        try:
            targets = self.solve()
        except _Budget:
            self.exhausted = True
            targets = self.fallback
        self.search["steps"] = self.steps
        self.unlimited = True  # building the plan evaluates what the search chose, whatever the limit
        return self.build(targets)

    def build(self, targets):
        at = self.grouped(targets) if self.csvs else {}
        moved, dropped = {}, {}
        unaligned_total = cost_total = moves_total = 0
        for t, group in at.items():
            if t is None:
                continue
            chosen, items = self.g(t, group)[1:]
            for v in chosen:
                moved[v] = t
            for v in set(items) - set(chosen):
                dropped[v] = self._dropped_reason(v, chosen, t)
        groups, csv_rows, unaligned = [], [], []
        for c, csv in enumerate(self.csvs):
            t = targets[c]
            owner = csv["owner"]
            members = csv["members"]
            before = sum(1 for v in members if self.vms[v]["node"] == owner)
            group_moves = []
            csv_move = None
            if t != owner:
                csv_move = {
                    "kind": "csv", "name": csv["name"], "id": csv["name"], "from": self._name(owner),
                    "to": self._name(t), "migration": None, "cost": self.csv_cost,
                    "reason": self._csv_reason(c, t), "may_be_undone_by": self._undo_csv(csv["name"]),
                }
                group_moves.append(csv_move)
            vm_moves = []
            after = 0
            for v in members:
                vm = self.vms[v]
                if vm["node"] == t:
                    after += 1
                elif v in moved:
                    after += 1
                    vm_moves.append(self._vm_move(v, c, t, csv_move is not None))
                else:
                    reason = dropped.get(v) or (self.static_reason(v, t) if t is not None else None)
                    unaligned.append({"vm": vm["name"], "id": vm["id"], "node": self._name(vm["node"]),
                                      "csv": csv["name"], "owner": self._name(t),
                                      "reason": reason or f"{csv['name']} has no owner"})
            vm_moves.sort(key=lambda m: (m["cost"], m["_index"]))
            group_moves.extend(vm_moves)
            group_cost = sum(m["cost"] for m in group_moves)
            unaligned_total += len(members) - after
            cost_total += group_cost
            moves_total += len(group_moves)
            csv_rows.append({"name": csv["name"], "state": csv["state"], "owner": self._name(owner),
                             "target": self._name(t), "vms": len(members), "aligned_before": before,
                             "aligned_planned": after, "moves": len(group_moves), "cost": group_cost})
            if group_moves:
                groups.append((len(group_moves), group_cost, c, group_moves))
        groups.sort(key=lambda g: g[:3])
        ordered = self._order(groups)
        for move in ordered["moves"] + ordered["deferred"]:
            move.pop("_index", None)
        self._plan_warnings(targets, moved)
        return {
            "strategy": self.opts["strategy"],
            "optimal": not self.exhausted,
            "moves": ordered["moves"],
            "deferred": ordered["deferred"],
            "unaligned": unaligned,
            "left_alone": [{"vm": self.vms[v]["name"], "id": self.vms[v]["id"], "node": self._name(self.vms[v]["node"]),
                            "reason": reason} for v, reason in self.left_alone],
            "csvs": csv_rows,
            "cost": sum(m["cost"] for m in ordered["moves"]),
            "deferred_cost": sum(m["cost"] for m in ordered["deferred"]),
            "objective": {"unaligned": unaligned_total, "cost": cost_total, "moves": moves_total},
            "search": self.search,
            "summary": {
                "vms": len(self.vms),
                "on_csv": sum(len(c["members"]) for c in self.csvs),
                "aligned_before": sum(r["aligned_before"] for r in csv_rows),
                "aligned_after": self._aligned_after(ordered["moves"]),
                "aligned_planned": sum(r["aligned_planned"] for r in csv_rows),
                "left_alone": len(self.left_alone),
                "unaligned": len(unaligned),
                "moves": len(ordered["moves"]),
                "deferred": len(ordered["deferred"]),
            },
            "warnings": self.warnings,
        }

    def _aligned_after(self, done):
        """VMs on their CSV's owner once the moves ``done`` are made (and the deferred ones not)."""
        owners = {m["name"]: m["to"] for m in done if m["kind"] == "csv"}
        nodes = {m["id"]: m["to"] for m in done if m["kind"] == "vm"}
        count = 0
        for csv in self.csvs:
            owner = owners.get(csv["name"], self._name(csv["owner"]))
            count += sum(1 for v in csv["members"] if nodes.get(self.vms[v]["id"], self._name(self.vms[v]["node"])) == owner)
        return count

    def _dropped_reason(self, v, chosen, t):
        vms = self.vms
        rival = next((w for w in chosen if vms[w]["classes"] & vms[v]["classes"]), None)
        if rival is not None:
            cls = sorted(vms[v]["classes"] & vms[rival]["classes"])[0]
            return (f"anti-affinity class {vms[v]['class_names'][cls]!r}: {vms[rival]['name']} moves to "
                    f"{self._name(t)} in this plan")
        if self.nodes[t]["slack"] is not None:
            return (f"the memory {self._name(t)} may receive within the headroom is taken by the other VMs this "
                    "plan moves there")
        return "not planned: the search limit was reached"

    def _name(self, t):
        return None if t is None else self.nodes[t]["name"]

    def _order(self, groups):
        limit = self.opts["max_moves"]
        if limit is None:
            return {"moves": [m for g in groups for m in g[3]], "deferred": []}
        taken, rest, room = [], [], limit
        for group in groups:
            if group[0] <= room:
                taken.extend(group[3])
                room -= group[0]
            else:
                rest.append(group)
        deferred = []
        for group in rest:
            part = group[3][:room]
            room -= len(part)
            taken.extend(part)
            deferred.extend(group[3][len(part):])
        return {"moves": taken, "deferred": deferred}

    def _csv_reason(self, c, t):
        csv = self.csvs[c]
        owner = csv["owner"]
        if self.opts["strategy"] == "move_csvs":
            return f"{self._name(t)} runs the most memory of its VMs"
        here = self.nodes[owner]["why_not"] if owner is not None else "it has no owner"
        mine = self._unpack(self.local(c, t))
        keep = self._unpack(self.local(c, owner)) if owner is not None else None
        if keep is None or keep[0] > mine[0]:
            extra = f" ({here})" if here else ""
            gained = "" if keep is None else f"{keep[0] - mine[0]} more of its VMs than keeping it on {self._name(owner)}"
            return f"aligns {gained or 'its VMs'}{extra}"
        return (f"moving it and {mine[2] - 1} VM(s) costs {fmt_bytes(mine[1])}; migrating {keep[2]} VM(s) to "
                f"{self._name(owner)} would cost {fmt_bytes(keep[1])}")

    def _unpack(self, value):
        value //= self.tb_base
        moves = value % _MOVES_WIDTH
        value //= _MOVES_WIDTH
        return value // _COST_WIDTH, value % _COST_WIDTH, moves

    def _vm_move(self, v, c, t, csv_moves):
        vm, csv = self.vms[v], self.csvs[c]
        migration = self.opts["migration_type"] if vm["state"] == "Running" else "quick"
        reason = f"{csv['name']} moves to {self._name(t)}" if csv_moves else f"{csv['name']} is owned by {self._name(t)}"
        return {"kind": "vm", "name": vm["name"], "id": vm["id"], "from": self._name(vm["node"]), "to": self._name(t),
                "migration": migration, "cost": vm["weight"], "reason": reason, "state": vm["state"],
                "csv": csv["name"], "depends_on": csv["name"] if csv_moves else None,
                "may_be_undone_by": self._undo_vm(vm, t), "_index": v}

    def _undo_csv(self, name):
        if self.balancer.get("CsvBalancer") == 1:
            return [{"by": "CsvBalancer", "msg": f"the CSV balancer (CsvBalancer 1) may move {name} to another node "
                                                 "to spread volume ownership"}]
        return []

    def _undo_vm(self, vm, t):
        undo = []
        mode = self.balancer.get("AutoBalancerMode")
        if mode in (1, 2):
            level = self.balancer.get("AutoBalancerLevel")
            threshold = _BALANCER_THRESHOLD.get(level)
            when = "when a node joins the cluster and every 30 minutes" if mode == 2 else "when a node joins the cluster"
            msg = f"VM load balancing (AutoBalancerMode {mode}) may move {vm['name']} again {when}"
            if threshold:
                msg += f", if a node's CPU or memory load exceeds {threshold}% (AutoBalancerLevel {level})"
            undo.append({"by": "AutoBalancerMode", "msg": msg})
        if vm["failback"] and vm["preferred"] and str(vm["preferred"][0]).upper() != self._name(t).upper():
            undo.append({"by": "AutoFailbackType",
                         "msg": f"failback is allowed for {vm['name']}: the cluster moves it back to its preferred owner "
                                f"{vm['preferred'][0]} when that node comes back online after a failover"})
        return undo

    def _plan_warnings(self, targets, moved):
        balancer = self.balancer
        if balancer.get("CsvBalancer") == 1:
            self.warnings.append("the CSV balancer is on (CsvBalancer 1): the cluster may move CSV ownership by itself "
                                 "and take VMs off their CSV's owner again; (Get-Cluster).CsvBalancer = 0 turns it off "
                                 "(your decision: this plan changes no cluster setting)")
        elif balancer.get("CsvBalancer") is None:
            self.warnings.append("whether the CSV balancer is on is unknown (CsvBalancer was not reported)")
        mode = balancer.get("AutoBalancerMode")
        if mode in (1, 2):
            self.warnings.append(
                f"VM load balancing is on (AutoBalancerMode {mode}"
                + (f", level {balancer.get('AutoBalancerLevel')}" if balancer.get("AutoBalancerLevel") else "")
                + "): it may live-migrate VMs off their CSV's owner again; (Get-Cluster).AutoBalancerMode = 0 turns it "
                  "off (your decision: this plan changes no cluster setting)")
        elif mode is None:
            self.warnings.append("whether VM load balancing is on is unknown (AutoBalancerMode was not reported)")
        pairs = set()
        for (node, cls), members in self.classes_at.items():
            stay = [v for v in members if v not in moved]
            if len(stay) > 1 and node is not None:
                names = sorted(self.vms[v]["name"] for v in stay)
                pairs.add((self.nodes[node]["name"], self.vms[stay[0]]["class_names"][cls], tuple(names)))
        for node, cls, names in sorted(pairs):
            self.warnings.append(f"{', '.join(names)} share anti-affinity class {cls!r} and run on {node}; "
                                 "this plan does not separate them")
        if self.exhausted:
            self.warnings.append(f"the search stopped at search_limit ({self.opts['search_limit']} steps): the plan is "
                                 "the best found, not proven optimal")


def plan_placement(problem, options=None):
    """Plan CSV placement for ``problem`` (``placement_input(view)``, or the same shape built by hand).

    Returns ``{'strategy', 'optimal', 'moves', 'deferred', 'unaligned', 'left_alone', 'csvs', 'cost',
    'deferred_cost', 'objective', 'search', 'summary', 'warnings'}`` (docs/csv-placement.md); each move is ``{'kind': 'csv'|'vm', 'name', 'id',
    'from', 'to', 'migration', 'cost', 'reason', 'may_be_undone_by'}`` and, for a VM, ``'state'``, ``'csv'``
    and ``'depends_on'``. Raises :class:`PlacementError` for bad options.
    """
    return _Planner(problem, check_options(options)).run()


# ---------------------------------------------------------------------------------------------------------
# Rendering


def _table(headers, rows):
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows)]
    return ["  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip() for line in [headers] + rows]


def _move_rows(moves, start=1):
    rows = []
    for number, move in enumerate(moves, start):
        undo = ", ".join(u["by"] for u in move.get("may_be_undone_by") or [])
        rows.append([number, move["kind"], move["name"], move["from"] or "-", move["to"] or "-",
                     move.get("migration") or "-", fmt_bytes(move["cost"]),
                     move["reason"] + (f" [may be undone by {undo}]" if undo else "")])
    return rows


def render_plan(plan):
    """The plan as lines of text: a table of the moves, then what is deferred, left off and left alone."""
    summary = plan["summary"]
    lines = [
        f"CSV placement, strategy {plan['strategy']}{'' if plan['optimal'] else ' (best found, not proven optimal)'}: "
        f"{summary['aligned_before']} of {summary['on_csv']} VMs on a CSV run on its owner now, "
        f"{summary['aligned_after']} after {len(plan['moves'])} move(s) costing {fmt_bytes(plan['cost'])}"
        + (f", {summary['aligned_planned']} once the deferred ones are made too" if plan["deferred"] else "")
    ]
    headers = ["#", "kind", "name", "from", "to", "migration", "cost", "reason"]
    if plan["moves"]:
        lines += _table(headers, _move_rows(plan["moves"]))
    else:
        lines.append("nothing to move")
    if plan["deferred"]:
        lines.append(f"deferred by max_moves ({len(plan['deferred'])}, {fmt_bytes(plan['deferred_cost'])}):")
        lines += _table(headers, _move_rows(plan["deferred"], len(plan["moves"]) + 1))
    if plan["unaligned"]:
        lines.append(f"cannot be aligned ({len(plan['unaligned'])}):")
        lines += [f"  {u['vm']} on {u['node']} ({u['csv']}, owner {u['owner']}): {u['reason']}" for u in plan["unaligned"]]
    if plan["left_alone"]:
        lines.append(f"left alone ({len(plan['left_alone'])}):")
        lines += [f"  {x['vm']} on {x['node']}: {x['reason']}" for x in plan["left_alone"]]
    if plan["warnings"]:
        lines.append("warnings:")
        lines += [f"  - {w}" for w in plan["warnings"]]
    return lines
