import copy
import itertools
import random
import uuid

import pytest

from ansible_collections.hyperv.backup.plugins.plugin_utils._cluster_view import cluster_view, volume_finder
from ansible_collections.hyperv.backup.plugins.plugin_utils._csv_placement import (
    DEFAULT_CSV_MOVE_COST, PlacementError, _Planner, check_options, home_volume, placement_input, plan_placement,
    render_plan)
from tests.unit.factsdata import CSVS, node, vm

G = 2 ** 30


# ---------------------------------------------------------------------------------------------------------
# An independent statement of the rules (docs/csv-placement.md), used to check plans and to search
# exhaustively. It shares no code with the planner.

OFF_STATES = ("Off", "Saved", "OffCritical", "SavedCritical", "FastSaved", "FastSavedCritical")


class Rules:
    def __init__(self, problem, options=None):
        options = options or {}
        self.k = options.get("csv_move_cost", DEFAULT_CSV_MOVE_COST)
        self.headroom = options.get("memory_headroom")
        self.strategy = options.get("strategy", "auto")
        excluded = {str(e).upper() for e in options.get("exclude") or []}
        self.nodes = sorted(n["name"] for n in problem["nodes"])
        info = {n["name"]: n for n in problem["nodes"]}
        self.eligible = {n: info[n].get("state", "Up") == "Up" and info[n].get("drain_status") != "InProgress"
                         for n in self.nodes}
        self.csvs = sorted(problem["csvs"], key=lambda c: c["name"].upper())
        online = {c["name"] for c in self.csvs if c.get("state", "Online") == "Online"}
        self.vms = sorted(problem["vms"], key=lambda v: (v["name"].upper(), v["id"]))
        self.memory = {}
        for v in self.vms:
            held = v.get("memory")
            self.memory[v["id"]] = 0 if v.get("state", "Running") in OFF_STATES else held
        self.weight = {v["id"]: (self.memory[v["id"]] or 0) if v.get("state", "Running") == "Running" else 0
                       for v in self.vms}
        # VMs the cluster cannot move now, like excluded ones, are left alone: not counted.
        self.members = {c["name"]: [v for v in self.vms if v.get("csv") == c["name"] and c["name"] in online
                                    and v["name"].upper() not in excluded and self.movable(v)] for c in self.csvs}
        self.slack = {}
        for n in self.nodes:
            used = sum(self.memory[v["id"]] or 0 for v in self.vms if v["node"] == n)
            capacity = info[n].get("memory_capacity")
            if self.headroom is None:
                self.slack[n] = None
            elif capacity is None:
                self.slack[n] = 0
            else:
                if isinstance(self.headroom, str):
                    reserve = -(-capacity * int(self.headroom.rstrip("%")) // 100)
                else:
                    reserve = self.headroom
                self.slack[n] = capacity - reserve - used  # may be negative: then only VMs holding no memory

    def movable(self, v):
        state = v.get("state", "Running")
        if not v.get("clustered", True) or state not in ("Running", "Off", "Saved"):
            return False
        return not (state == "Running" and self.memory[v["id"]] is None and self.headroom is not None)

    def classes(self, v):
        return {c.casefold() for c in v.get("anti_affinity") or []}

    def feasible(self, targets, moved):
        """``targets``: CSV name -> node; ``moved``: VM id -> node. Every rule of the docs."""
        for c in self.csvs:
            t = targets[c["name"]]
            if t != c["owner"] and not (self.eligible[t] and c.get("state", "Online") == "Online"):
                return False
        final = {v["id"]: moved.get(v["id"], v["node"]) for v in self.vms}
        arriving = {n: 0 for n in self.nodes}
        for v in self.vms:
            if v["id"] not in moved:
                continue
            t = moved[v["id"]]
            if t == v["node"] or not self.movable(v) or not self.eligible[t]:
                return False
            if v.get("possible_owners") and t not in v["possible_owners"]:
                return False
            for w in self.vms:
                if w is not v and self.classes(v) & self.classes(w) and (w["node"] == t or final[w["id"]] == t):
                    return False
            arriving[t] += self.weight[v["id"]]
        for n, amount in arriving.items():
            if amount and self.slack[n] is not None and amount > self.slack[n]:
                return False
        return True

    def key(self, targets, moved):
        unaligned = sum(1 for c in self.csvs for v in self.members[c["name"]]
                        if moved.get(v["id"], v["node"]) != targets[c["name"]])
        csv_moves = sum(1 for c in self.csvs if targets[c["name"]] != c["owner"])
        cost = csv_moves * self.k + sum(self.weight[i] for i in moved)
        ranks = tuple(0 if targets[c["name"]] == c["owner"] else 1 + self.nodes.index(targets[c["name"]])
                      for c in self.csvs)
        bits = tuple(0 if v["id"] in moved else 1 for v in self.vms)
        return (unaligned, cost, csv_moves + len(moved), ranks, bits)

    def choices(self, c):
        if self.strategy == "migrate_vms":
            return [c["owner"]]
        if self.strategy == "move_csvs":
            load = {}
            for v in self.members[c["name"]]:
                memory, count = load.get(v["node"], (0, 0))
                load[v["node"]] = (memory + self.weight[v["id"]], count + 1)
            allowed = [n for n in load if n == c["owner"] or self.eligible[n]]
            if not allowed:
                return [c["owner"]]
            return [min(allowed, key=lambda n: (-load[n][0], -load[n][1], n != c["owner"], self.nodes.index(n)))]
        return [c["owner"]] + [n for n in self.nodes if n != c["owner"]]

    def exhaustive(self):
        best = None
        for combo in itertools.product(*(self.choices(c) for c in self.csvs)):
            targets = {c["name"]: t for c, t in zip(self.csvs, combo)}
            if not self.feasible(targets, {}):
                continue
            off = [(v, targets[c["name"]]) for c in self.csvs for v in self.members[c["name"]]
                   if v["node"] != targets[c["name"]]]
            for bits in itertools.product((0, 1), repeat=len(off)):
                moved = {v["id"]: t for (v, t), bit in zip(off, bits) if bit}
                if not self.feasible(targets, moved):
                    continue
                key = self.key(targets, moved)
                if best is None or key < best[0]:
                    best = (key, targets, moved)
        return best


def plan_solution(plan):
    targets = {c["name"]: c["target"] for c in plan["csvs"]}
    moved = {m["id"]: m["to"] for m in plan["moves"] + plan["deferred"] if m["kind"] == "vm"}
    return targets, moved


# ---------------------------------------------------------------------------------------------------------
# Small random clusters


def random_problem(rng):
    nodes = []
    for i in range(rng.randint(2, 4)):
        state = rng.choices(["Up", "Paused", "Down"], [80, 12, 8])[0]
        nodes.append({"name": f"HV{i + 1:02d}", "state": state,
                      "drain_status": "InProgress" if state == "Up" and rng.random() < 0.08 else "NotInitiated",
                      "memory_capacity": None if rng.random() < 0.1 else rng.choice([12, 16, 24, 32]) * G})
    names = [n["name"] for n in nodes]
    csvs = [{"name": f"Cluster Disk {i + 1}", "owner": rng.choice(names),
             "state": "Online" if rng.random() < 0.92 else "Offline"} for i in range(rng.randint(1, 3))]
    vms = []
    for i in range(rng.randint(2, 6)):
        state = rng.choices(["Running", "Off", "Saved", "Paused", "Stopping"], [66, 18, 6, 5, 5])[0]
        memory = rng.choice([1, 2, 4, 8]) * G if state not in ("Off", "Saved") else 0
        if state == "Running" and rng.random() < 0.04:
            memory = None
        classes = rng.choices([[], ["dc"], ["sql"], ["dc", "SQL"]], [55, 20, 15, 10])[0]
        vms.append({
            "id": f"00000000-0000-0000-0000-{i:012d}", "name": rng.choice(["VM", "vm", "App"]) + str(i),
            "node": rng.choice(names), "state": state, "memory": memory,
            "csv": rng.choice([c["name"] for c in csvs]) if rng.random() < 0.88 else None,
            "clustered": rng.random() < 0.95,
            "possible_owners": rng.sample(names, rng.randint(1, len(names))) if rng.random() < 0.25 else [],
            "anti_affinity": classes,
        })
    options = {"strategy": "auto", "csv_move_cost": rng.choice([0, 1, 2, 4, 8, 16]) * G,
               "memory_headroom": rng.choice([None, None, 2 * G, 4 * G, "10%", "25%"])}
    if rng.random() < 0.1:
        options["exclude"] = [rng.choice(vms)["name"]]
    return {"nodes": nodes, "csvs": csvs, "vms": vms, "balancer": {}}, options


def tight_problem(rng):
    """Scarce memory, frequent anti-affinity classes, cheap CSV moves, CSVs mostly owned by HV01 and VMs
    mostly elsewhere: CSVs compete for what a node may receive."""
    nodes = [{"name": f"HV{i + 1:02d}", "state": "Up" if rng.random() < 0.9 else "Paused",
              "memory_capacity": rng.choice([6, 8, 10]) * G} for i in range(rng.randint(2, 3))]
    names = [n["name"] for n in nodes]
    csvs = [{"name": f"Cluster Disk {i + 1}", "owner": names[0] if rng.random() < 0.6 else rng.choice(names)}
            for i in range(rng.randint(2, 3))]
    vms = []
    for i in range(rng.randint(5, 7)):
        state = rng.choices(["Running", "Off"], [85, 15])[0]
        vms.append({"id": f"00000000-0000-0000-0000-{i:012d}", "name": f"VM{i}",
                    "node": rng.choice(names[1:]) if rng.random() < 0.7 else names[0], "state": state,
                    "memory": rng.choice([1, 2, 3, 4]) * G if state == "Running" else 0,
                    "csv": rng.choice([c["name"] for c in csvs]),
                    "possible_owners": rng.sample(names, rng.randint(1, len(names))) if rng.random() < 0.15 else [],
                    "anti_affinity": rng.choices([[], ["a"], ["b"], ["c"], ["a", "b"]], [55, 12, 12, 12, 9])[0]})
    options = {"strategy": "auto", "csv_move_cost": rng.choice([0, 1, 2, 3]) * G,
               "memory_headroom": rng.choice([1 * G, 2 * G, "10%"])}
    return {"nodes": nodes, "csvs": csvs, "vms": vms}, options


def assert_exhaustive_optimum(problem, options, plan, case):
    rules = Rules(problem, options)
    key, targets, moved = rules.exhaustive()
    assert plan["optimal"] is True, case
    got_targets, got_moved = plan_solution(plan)
    assert rules.feasible(got_targets, got_moved), case
    assert rules.key(got_targets, got_moved) == key, (case, problem, options)
    assert (got_targets, got_moved) == (targets, moved), case
    assert (plan["objective"]["unaligned"], plan["objective"]["cost"], plan["objective"]["moves"]) == key[:3]


@pytest.mark.parametrize("local_search", [True, False], ids=["with-local-search", "search-alone"])
def test_coupled_clusters_are_optimal(local_search, monkeypatch):
    """Where CSVs compete for a node's memory or anti-affinity classes (the best target of each alone does
    not add up), the branch and bound still finds exactly the exhaustive optimum, also without the local
    search that gives it a good first plan."""
    if not local_search:
        monkeypatch.setattr(_Planner, "improve", lambda self, targets, current, bound: (targets, current))
    rng = random.Random(5)
    coupled = explored = 0
    for case in range(4000):
        problem, options = tight_problem(rng)
        plan = plan_placement(copy.deepcopy(problem), options)
        if plan["search"]["bound_met"]:
            continue
        coupled += 1
        explored += plan["search"]["nodes_explored"]
        assert_exhaustive_optimum(problem, options, plan, case)
        if coupled == 60:
            break
    assert coupled == 60
    if not local_search:  # the branch and bound did search, not just confirm its first plan
        assert explored > 2 * coupled


@pytest.mark.parametrize("strategy", ["auto", "migrate_vms", "move_csvs"])
def test_optimal_against_exhaustive_search(strategy):
    """On several hundred small random clusters the plan is exactly the exhaustive search's optimum:
    same objective, same targets, same VMs moved (the tie-breaks make the optimum unique)."""
    rng = random.Random(20261123 + len(strategy))
    cases = 400 if strategy == "auto" else 150
    coupled = 0
    for case in range(cases):
        problem, options = random_problem(rng)
        options["strategy"] = strategy
        plan = plan_placement(copy.deepcopy(problem), options)
        assert_exhaustive_optimum(problem, options, plan, case)
        coupled += any("headroom" in u["reason"] or "same node" in u["reason"] for u in plan["unaligned"])
    assert coupled >= (5 if strategy == "auto" else 1)  # the cases do exercise the coupling constraints


def test_every_subset_of_a_plan_is_safe():
    """Moves may fail one by one and max_moves defers some: any subset of a plan breaks no constraint."""
    rng = random.Random(7)
    for case in range(200):
        problem, options = random_problem(rng)
        rules = Rules(problem, options)
        plan = plan_placement(copy.deepcopy(problem), options)
        targets, moved = plan_solution(plan)
        for _ in range(5):
            subset = {i: t for i, t in moved.items() if rng.random() < 0.5}
            owners = {c["name"]: (targets[c["name"]] if rng.random() < 0.5 else c["owner"]) for c in problem["csvs"]}
            assert rules.feasible(owners, subset), case


# ---------------------------------------------------------------------------------------------------------
# Every rule, on small hand-built clusters


def V(name, node, csv="Cluster Disk 1", memory=4 * G, **extra):
    entry = {"id": str(uuid.uuid5(uuid.NAMESPACE_DNS, name)), "name": name, "node": node, "state": "Running",
             "memory": memory, "csv": csv}
    entry.update(extra)
    return entry


def cluster(vms, csvs=(("Cluster Disk 1", "HV01"),), nodes=("HV01", "HV02", "HV03"), **balancer):
    return {"nodes": [n if isinstance(n, dict) else {"name": n} for n in nodes],
            "csvs": [{"name": name, "owner": owner} for name, owner in csvs],
            "vms": list(vms), "balancer": balancer}


def moves(plan, kind=None):
    return [(m["kind"], m["name"], m["from"], m["to"]) for m in plan["moves"] if kind in (None, m["kind"])]


def test_aligned_cluster_needs_no_move():
    plan = plan_placement(cluster([V("A", "HV01"), V("B", "HV01")]))
    assert plan["moves"] == [] and plan["unaligned"] == [] and plan["optimal"] is True
    assert plan["summary"]["aligned_before"] == plan["summary"]["aligned_after"] == plan["summary"]["aligned_planned"] == 2
    assert plan["csvs"] == [{"name": "Cluster Disk 1", "state": "Online", "owner": "HV01", "target": "HV01", "vms": 2,
                             "aligned_before": 2, "aligned_planned": 2, "moves": 0, "cost": 0}]


def test_migrate_vms_moves_each_vm_to_its_csvs_owner():
    problem = cluster([V("A", "HV02", memory=8 * G), V("B", "HV03", state="Off", memory=0), V("C", "HV01")])
    plan = plan_placement(problem, {"strategy": "migrate_vms"})
    assert moves(plan) == [("vm", "B", "HV03", "HV01"), ("vm", "A", "HV02", "HV01")]  # off (0 bytes) first
    a, b = plan["moves"][1], plan["moves"][0]
    assert (a["migration"], a["cost"], b["migration"], b["cost"]) == ("live", 8 * G, "quick", 0)
    assert a["reason"] == "Cluster Disk 1 is owned by HV01" and a["depends_on"] is None
    assert plan["cost"] == 8 * G and plan["objective"] == {"unaligned": 0, "cost": 8 * G, "moves": 2}
    quick = plan_placement(problem, {"strategy": "migrate_vms", "migration_type": "quick"})
    assert [m["migration"] for m in quick["moves"]] == ["quick", "quick"]


def test_move_csvs_moves_the_volume_to_the_node_running_most_of_its_memory_then_migrates_the_rest():
    problem = cluster([V("A", "HV02", memory=16 * G), V("B", "HV02", memory=8 * G), V("C", "HV01", memory=8 * G),
                       V("D", "HV03", memory=2 * G)])
    plan = plan_placement(problem, {"strategy": "move_csvs"})
    assert moves(plan) == [("csv", "Cluster Disk 1", "HV01", "HV02"), ("vm", "D", "HV03", "HV02"),
                           ("vm", "C", "HV01", "HV02")]
    assert plan["moves"][0]["reason"] == "HV02 runs the most memory of its VMs"
    assert [m["depends_on"] for m in plan["moves"][1:]] == ["Cluster Disk 1"] * 2
    assert plan["cost"] == DEFAULT_CSV_MOVE_COST + 10 * G


def test_auto_chooses_per_csv_whichever_costs_least():
    """Disk 1's big VMs run on HV02: moving the volume (16 GiB) and one 2 GiB VM beats migrating 48 GiB.
    Disk 2 has one VM away, running more memory than the two at home: migrating it (8 GiB) beats moving
    the volume to it (16 GiB + 6 GiB). The field scripts do one or the other everywhere and cost more."""
    problem = cluster([V("BIG1", "HV02", memory=24 * G), V("BIG2", "HV02", memory=24 * G), V("SMALL", "HV01", memory=2 * G),
                       V("W1", "HV02", csv="Cluster Disk 2", memory=8 * G), V("W2", "HV03", csv="Cluster Disk 2", memory=2 * G),
                       V("W3", "HV03", csv="Cluster Disk 2")],
                      csvs=(("Cluster Disk 1", "HV01"), ("Cluster Disk 2", "HV03")))
    plan = plan_placement(problem)
    assert moves(plan) == [("vm", "W1", "HV02", "HV03"), ("csv", "Cluster Disk 1", "HV01", "HV02"),
                           ("vm", "SMALL", "HV01", "HV02")]
    assert plan["cost"] == 8 * G + DEFAULT_CSV_MOVE_COST + 2 * G
    assert "would cost 48.0 GiB" in plan["moves"][1]["reason"]
    assert plan_placement(problem, {"strategy": "migrate_vms"})["cost"] == 56 * G
    assert plan_placement(problem, {"strategy": "move_csvs"})["cost"] == 2 * DEFAULT_CSV_MOVE_COST + 8 * G
    costly = plan_placement(problem, {"csv_move_cost": 64 * G})
    assert moves(costly, "csv") == [] and costly["cost"] == 56 * G


def test_a_tie_in_cost_goes_to_fewer_moves_then_to_keeping_the_owner():
    # Migrating A (16 GiB) costs as much as moving the volume to A (16 GiB): same cost, same number of moves,
    # so the CSV stays where it is.
    plan = plan_placement(cluster([V("A", "HV02", memory=16 * G)]))
    assert moves(plan) == [("vm", "A", "HV02", "HV01")]
    # Two 8 GiB VMs on HV02: 16 GiB either way, but one CSV move is fewer moves than two migrations.
    plan = plan_placement(cluster([V("A", "HV02", memory=8 * G), V("B", "HV02", memory=8 * G)]))
    assert moves(plan) == [("csv", "Cluster Disk 1", "HV01", "HV02")]


@pytest.mark.parametrize("state,drain,why", [("Paused", "Completed", "HV02 is Paused"), ("Down", None, "HV02 is Down"),
                                             ("Up", "InProgress", "HV02 is draining"), ("Joining", None, "HV02 is Joining")])
def test_no_move_to_a_node_that_is_not_up_or_is_draining(state, drain, why):
    nodes = ["HV01", {"name": "HV02", "state": state, "drain_status": drain}, "HV03"]
    problem = cluster([V("A", "HV01"), V("B", "HV01")], csvs=(("Cluster Disk 1", "HV02"),), nodes=nodes)
    plan = plan_placement(problem, {"strategy": "migrate_vms"})
    assert plan["moves"] == []
    assert [(u["vm"], u["reason"]) for u in plan["unaligned"]] == [("A", why), ("B", why)]
    auto = plan_placement(problem)  # the volume moves to where its VMs run instead
    assert moves(auto) == [("csv", "Cluster Disk 1", "HV02", "HV01")] and auto["unaligned"] == []
    assert "aligns 2 more of its VMs than keeping it on HV02" in auto["moves"][0]["reason"]


def test_a_csv_may_stay_on_an_owner_that_is_paused():
    # Keeping the volume on HV01 leaves B off it; moving it to HV02 would leave A off it (A may only run on
    # HV01): as many aligned either way, and keeping costs nothing.
    nodes = [{"name": "HV01", "state": "Paused"}, "HV02"]
    plan = plan_placement(cluster([V("A", "HV01", possible_owners=["HV01"]), V("B", "HV02")], nodes=nodes))
    assert plan["moves"] == [] and [(u["vm"], u["reason"]) for u in plan["unaligned"]] == [("B", "HV01 is Paused")]
    assert plan["summary"]["aligned_after"] == 1


def test_possible_owners_are_respected():
    problem = cluster([V("A", "HV02", possible_owners=["HV02", "HV03"]), V("B", "HV01"), V("C", "HV01")])
    plan = plan_placement(problem, {"strategy": "migrate_vms"})
    assert plan["moves"] == []
    assert plan["unaligned"][0]["reason"] == "HV01 is not among its possible owners (HV02, HV03)"
    auto = plan_placement(problem)  # aligning A means moving the volume to HV02 and B and C with it
    assert moves(auto) == [("csv", "Cluster Disk 1", "HV01", "HV02"), ("vm", "B", "HV01", "HV02"),
                           ("vm", "C", "HV01", "HV02")]


def test_anti_affinity_a_vm_never_joins_a_node_running_a_vm_of_its_class():
    problem = cluster([V("DC1", "HV02", anti_affinity=["DomainControllers"]),
                       V("DC2", "HV01", csv="Cluster Disk 2", anti_affinity=["domaincontrollers"]),
                       V("APP", "HV01")],
                      csvs=(("Cluster Disk 1", "HV01"), ("Cluster Disk 2", "HV01")))
    plan = plan_placement(problem, {"strategy": "migrate_vms"})
    assert plan["moves"] == []
    assert plan["unaligned"] == [{"vm": "DC1", "id": problem["vms"][0]["id"], "node": "HV02", "csv": "Cluster Disk 1",
                                  "owner": "HV01", "reason": "anti-affinity class 'DomainControllers': DC2 runs on HV01"}]


def test_anti_affinity_two_vms_of_a_class_never_both_move_to_one_node():
    problem = cluster([V("SQL1", "HV02", anti_affinity=["sql"], memory=8 * G),
                       V("SQL2", "HV03", anti_affinity=["sql"], memory=4 * G), V("APP", "HV01")])
    plan = plan_placement(problem, {"strategy": "migrate_vms"})
    assert moves(plan) == [("vm", "SQL2", "HV03", "HV01")]  # the lighter one
    assert plan["unaligned"][0]["vm"] == "SQL1"
    assert plan["unaligned"][0]["reason"] == "anti-affinity class 'sql': SQL2 moves to HV01 in this plan"


def test_anti_affinity_with_vms_of_several_classes_takes_the_most_vms():
    # Y shares a class with X and one with Z: taking the light Y alone would align one VM; X and Z, two.
    problem = cluster([V("X", "HV02", anti_affinity=["a"], memory=8 * G), V("Y", "HV02", anti_affinity=["a", "b"], memory=1 * G),
                       V("Z", "HV03", anti_affinity=["b"], memory=8 * G)])
    plan = plan_placement(problem, {"strategy": "migrate_vms"})
    assert sorted(m["name"] for m in plan["moves"]) == ["X", "Z"]
    assert plan["unaligned"][0]["vm"] == "Y" and "moves to HV01 in this plan" in plan["unaligned"][0]["reason"]


def test_existing_anti_affinity_pairs_are_left_and_reported():
    problem = cluster([V("DC1", "HV01", anti_affinity=["dc"]), V("DC2", "HV01", anti_affinity=["dc"])])
    plan = plan_placement(problem)
    assert plan["moves"] == []
    assert "DC1, DC2 share anti-affinity class 'dc' and run on HV01; this plan does not separate them" in plan["warnings"]


def test_memory_headroom_limits_what_a_node_receives_counting_no_departure():
    nodes = [{"name": "HV01", "memory_capacity": 64 * G}, {"name": "HV02", "memory_capacity": 64 * G}]
    vms = [V("BASE", "HV01", csv=None, memory=40 * G),  # not on a CSV: only uses memory
           V("LEAVES", "HV01", csv="Cluster Disk 2", memory=8 * G),  # leaves HV01, which does not count
           V("A", "HV02", memory=8 * G), V("B", "HV02", memory=4 * G), V("C", "HV02", memory=4 * G),
           V("OFF", "HV02", state="Off", memory=0)]
    problem = cluster(vms, csvs=(("Cluster Disk 1", "HV01"), ("Cluster Disk 2", "HV02")), nodes=nodes)
    # HV01: 64 - 48 used - 6.4 (10 %) = 9.6 GiB it may receive: B and C (most VMs, least memory), and OFF.
    plan = plan_placement(problem, {"strategy": "migrate_vms", "memory_headroom": "10%"})
    assert sorted(m["name"] for m in plan["moves"]) == ["B", "C", "LEAVES", "OFF"]
    [left] = plan["unaligned"]
    assert left["vm"] == "A" and "headroom" in left["reason"]
    by_bytes = plan_placement(problem, {"strategy": "migrate_vms", "memory_headroom": 14 * G})
    assert sorted(m["name"] for m in by_bytes["moves"]) == ["LEAVES", "OFF"]
    assert {u["vm"]: u["reason"] for u in by_bytes["unaligned"]}["A"] == \
        "HV01 would keep less than the memory headroom (14.0 GiB) free"
    assert sorted(m["name"] for m in plan_placement(problem, {"strategy": "migrate_vms"})["moves"]) == \
        ["A", "B", "C", "LEAVES", "OFF"]  # no headroom: not checked


def test_unknown_capacity_receives_no_running_vm_while_headroom_is_checked():
    problem = cluster([V("A", "HV02"), V("OFF", "HV02", state="Off", memory=0)], nodes=("HV01", "HV02"))
    plan = plan_placement(problem, {"strategy": "migrate_vms", "memory_headroom": 0})
    assert moves(plan) == [("vm", "OFF", "HV02", "HV01")]
    assert plan["unaligned"][0]["reason"] == "the memory capacity of HV01 is unknown"
    assert any("capacity of HV01, HV02 is unknown" in w for w in plan["warnings"])


def test_vms_left_alone_with_their_reason():
    problem = cluster([V("LOCAL", "HV02", csv=None, csv_reason="none of its virtual disks is on a CSV"),
                       V("PAUSED", "HV02", state="Paused"), V("STANDALONE", "HV02", clustered=False),
                       V("GONE", "HV02", csv="Cluster Disk 9"), V("OFFLINE", "HV02", csv="Cluster Disk 2"),
                       V("NOMEM", "HV02", memory=None), V("KEEP", "HV02")],
                      csvs=(("Cluster Disk 1", "HV01"), ("Cluster Disk 2", "HV01")))
    problem["csvs"][1]["state"] = "Offline"
    plan = plan_placement(problem, {"strategy": "migrate_vms", "memory_headroom": 0, "exclude": ["keep"]})
    assert {x["vm"]: x["reason"] for x in plan["left_alone"]} == {
        "GONE": "Cluster Disk 9 is not a CSV of the cluster",
        "KEEP": "excluded",
        "LOCAL": "none of its virtual disks is on a CSV",
        "NOMEM": "its memory is unknown, so the memory headroom cannot be checked",
        "OFFLINE": "its CSV Cluster Disk 2 is Offline",
        "PAUSED": "it is Paused; only Running, Off and Saved VMs are moved",
        "STANDALONE": "it is not a clustered role, so the cluster cannot move it",
    }
    assert plan["moves"] == [] and plan["summary"]["on_csv"] == 0


def test_exclude_takes_names_patterns_and_ids_and_excluded_vms_still_count_for_anti_affinity():
    vms = [V("WEB1", "HV02"), V("WEB2", "HV02"), V("SQL1", "HV02", anti_affinity=["x"]),
           V("GUARD", "HV01", csv=None, anti_affinity=["x"])]
    plan = plan_placement(cluster(vms), {"strategy": "migrate_vms", "exclude": ["web*", vms[2]["id"].upper()]})
    assert plan["moves"] == [] and sorted(x["vm"] for x in plan["left_alone"]) == ["GUARD", "SQL1", "WEB1", "WEB2"]
    plan = plan_placement(cluster(vms), {"strategy": "migrate_vms", "exclude": ["WEB2"]})
    assert moves(plan) == [("vm", "WEB1", "HV02", "HV01")]
    assert plan["unaligned"][0]["reason"] == "anti-affinity class 'x': GUARD runs on HV01"
    # Names are data: an exclude entry with ';' is a name like any other, and excluding what is not there is fine.
    assert moves(plan_placement(cluster(vms), {"strategy": "migrate_vms", "exclude": ["DC;1", "WEB2"]})) == moves(plan)


def test_an_exclude_entry_that_looks_like_a_mistyped_id_is_an_error_unless_a_vm_is_named_so():
    vms = [V("WEB1", "HV02"), V("{not-a-guid}", "HV02")]
    with pytest.raises(PlacementError, match="exclude: '{d9e0eb0a-5b37}' looks like a VM ID but is not one"):
        plan_placement(cluster(vms), {"strategy": "migrate_vms", "exclude": ["{d9e0eb0a-5b37}"]})
    plan = plan_placement(cluster(vms), {"strategy": "migrate_vms", "exclude": ["{not-a-guid}"]})
    assert moves(plan) == [("vm", "WEB1", "HV02", "HV01")]


def test_max_moves_completes_the_smallest_csvs_first_and_defers_the_rest():
    vms = [V("A1", "HV02"), V("A2", "HV02", memory=2 * G), V("A3", "HV02", memory=1 * G),
           V("B1", "HV03", csv="Cluster Disk 2"), V("C1", "HV01", csv="Cluster Disk 3", memory=8 * G),
           V("C2", "HV01", csv="Cluster Disk 3", memory=8 * G)]
    problem = cluster(vms, csvs=(("Cluster Disk 1", "HV01"), ("Cluster Disk 2", "HV01"), ("Cluster Disk 3", "HV02")))
    full = plan_placement(problem, {"strategy": "migrate_vms"})
    assert [m["name"] for m in full["moves"]] == ["B1", "C1", "C2", "A3", "A2", "A1"] and full["deferred"] == []
    plan = plan_placement(problem, {"strategy": "migrate_vms", "max_moves": 4})
    assert [m["name"] for m in plan["moves"]] == ["B1", "C1", "C2", "A3"]
    assert [m["name"] for m in plan["deferred"]] == ["A2", "A1"]
    assert plan["cost"] == 4 * G + 16 * G + 1 * G and plan["deferred_cost"] == 6 * G
    assert plan["objective"] == full["objective"] and plan["unaligned"] == []
    assert (plan["summary"]["aligned_after"], plan["summary"]["aligned_planned"]) == (4, 6)
    nothing = plan_placement(problem, {"strategy": "migrate_vms", "max_moves": 0})
    assert nothing["moves"] == [] and len(nothing["deferred"]) == 6


def test_a_csv_move_comes_before_the_vm_moves_that_depend_on_it():
    problem = cluster([V("A", "HV02", memory=16 * G), V("B", "HV02", memory=16 * G), V("C", "HV01", memory=1 * G),
                       V("D", "HV03", memory=1 * G)])
    plan = plan_placement(problem, {"max_moves": 2})
    assert moves(plan) == [("csv", "Cluster Disk 1", "HV01", "HV02"), ("vm", "C", "HV01", "HV02")]
    assert [(m["name"], m["depends_on"]) for m in plan["deferred"]] == [("D", "Cluster Disk 1")]


def test_what_the_cluster_may_undo_is_reported_never_changed():
    problem = cluster([V("A", "HV02", memory=16 * G), V("B", "HV02", memory=16 * G), V("C", "HV03", memory=1 * G,
                       preferred_owners=["HV03", "HV01"], auto_failback=True), V("D", "HV03", memory=1 * G,
                       preferred_owners=["HV02"], auto_failback=True)],
                      CsvBalancer=1, AutoBalancerMode=2, AutoBalancerLevel=2)
    plan = plan_placement(problem)
    undo = {m["name"]: [u["by"] for u in m["may_be_undone_by"]] for m in plan["moves"]}
    assert undo == {"Cluster Disk 1": ["CsvBalancer"], "C": ["AutoBalancerMode", "AutoFailbackType"],
                    "D": ["AutoBalancerMode"]}
    c = next(m for m in plan["moves"] if m["name"] == "C")
    assert "exceeds 70% (AutoBalancerLevel 2)" in c["may_be_undone_by"][0]["msg"]
    assert "back to its preferred owner HV03" in c["may_be_undone_by"][1]["msg"]
    assert any(w.startswith("the CSV balancer is on (CsvBalancer 1)") for w in plan["warnings"])
    assert any(w.startswith("VM load balancing is on (AutoBalancerMode 2, level 2)") for w in plan["warnings"])
    quiet = plan_placement(dict(problem, balancer={"CsvBalancer": 0, "AutoBalancerMode": 0}))
    assert {m["name"]: [u["by"] for u in m["may_be_undone_by"]] for m in quiet["moves"]} == \
        {"Cluster Disk 1": [], "C": ["AutoFailbackType"], "D": []}
    assert not any("balanc" in w for w in quiet["warnings"])
    unknown = plan_placement(dict(problem, balancer={}))
    assert any("CsvBalancer was not reported" in w for w in unknown["warnings"])


def test_names_are_data_and_arrive_byte_for_byte():
    odd = ["O'Brien \"DB\"", "$(calc); `x`", "Ünïcødé-VM", "name with spaces"]
    problem = cluster([V(name, "HV02") for name in odd], csvs=(("Disk 'quoted'; $x", "HV01"),), nodes=("HV01", "HV02"))
    for vm in problem["vms"]:
        vm["csv"] = "Disk 'quoted'; $x"
    plan = plan_placement(problem, {"strategy": "migrate_vms"})
    assert sorted(m["name"] for m in plan["moves"]) == sorted(odd)
    assert {m["csv"] for m in plan["moves"]} == {"Disk 'quoted'; $x"}


def test_the_plan_does_not_depend_on_the_order_of_its_input():
    rng = random.Random(3)
    for _ in range(30):
        problem, options = random_problem(rng)
        plan = plan_placement(copy.deepcopy(problem), options)
        for key in ("nodes", "csvs", "vms"):
            rng.shuffle(problem[key])
        assert plan_placement(problem, options) == plan


def test_the_search_limit_returns_the_best_plan_found_not_proven():
    rng = random.Random(5)
    for case in range(4000):
        problem, options = tight_problem(rng)
        if not plan_placement(copy.deepcopy(problem), options)["search"]["bound_met"]:
            break
    plan = plan_placement(copy.deepcopy(problem), dict(options, search_limit=3))
    assert plan["optimal"] is False and any("search_limit (3 steps)" in w for w in plan["warnings"])
    rules = Rules(problem, options)
    assert rules.feasible(*plan_solution(plan))
    simple = plan_placement(copy.deepcopy(problem), dict(options, strategy="migrate_vms"))
    assert rules.key(*plan_solution(plan))[:3] <= rules.key(*plan_solution(simple))[:3]


@pytest.mark.parametrize("options,message", [
    ({"strategy": "fastest"}, "strategy: unknown value 'fastest'"),
    ({"migration_type": "shutdown"}, "migration_type: unknown value 'shutdown'"),
    ({"csv_move_cost": -1}, "csv_move_cost: -1 must be a number of bytes"),
    ({"csv_move_cost": "16G"}, "csv_move_cost: '16G' must be a number of bytes"),
    ({"memory_headroom": "110%"}, "memory_headroom: '110%' is more than 100%"),
    ({"memory_headroom": "lots"}, "memory_headroom: 'lots' must be a number of bytes or a percentage"),
    ({"memory_headroom": True}, "memory_headroom: True must be a number of bytes"),
    ({"max_moves": -2}, "max_moves: -2 must be a whole number of 0 or more"),
    ({"search_limit": 0}, "search_limit: 0 must be a whole number of 1 or more"),
    ({"exclude": 5}, "exclude: 5 must be a list"),
    ({"strategi": "auto"}, "unknown option\\(s\\) strategi"),
])
def test_bad_options_are_refused_naming_the_value(options, message):
    with pytest.raises(PlacementError, match=message):
        check_options(options)


def test_check_options_defaults():
    assert check_options() == {"strategy": "auto", "csv_move_cost": DEFAULT_CSV_MOVE_COST, "migration_type": "live",
                               "memory_headroom": None, "max_moves": None, "exclude": [], "search_limit": 20000}
    assert check_options({"memory_headroom": "12.5 %"})["memory_headroom"] == ("percent", 12.5)


def test_render_plan_is_a_readable_table():
    problem = cluster([V("A", "HV02", memory=16 * G), V("B", "HV02", memory=16 * G), V("C", "HV01", memory=1 * G),
                       V("D", "HV03", memory=1 * G, possible_owners=["HV03"]), V("E", "HV01", csv="Cluster Disk 2"),
                       V("L", "HV01", csv=None)],
                      csvs=(("Cluster Disk 1", "HV01"), ("Cluster Disk 2", "HV02")),
                      nodes=("HV01", "HV02", {"name": "HV03", "state": "Paused"}), CsvBalancer=1, AutoBalancerMode=0)
    lines = render_plan(plan_placement(problem, {"max_moves": 2}))
    text = "\n".join(lines)
    assert lines[0] == ("CSV placement, strategy auto: 1 of 5 VMs on a CSV run on its owner now, 3 after 2 move(s) "
                        "costing 20.0 GiB, 4 once the deferred ones are made too")
    assert lines[1].split() == ["#", "kind", "name", "from", "to", "migration", "cost", "reason"]
    assert lines[2] == "1  vm    E               HV01  HV02  live       4.0 GiB   Cluster Disk 2 is owned by HV02"
    assert lines[3].startswith("2  csv   Cluster Disk 1  HV01  HV02  -          16.0 GiB  moving it and 1 VM(s) costs")
    assert lines[3].endswith("[may be undone by CsvBalancer]")
    assert "deferred by max_moves (1, 1.0 GiB):" in text and "3  vm    C     HV01  HV02  live" in text
    assert "cannot be aligned (1):\n  D on HV03 (Cluster Disk 1, owner HV02): HV02 is not among its possible owners (HV03)" in text
    assert "left alone (1):\n  L on HV01: none of its virtual disks is on a CSV" in text
    assert "warnings:\n  - the CSV balancer is on" in text
    assert render_plan(plan_placement(cluster([V("A", "HV01")])))[1] == "nothing to move"


# ---------------------------------------------------------------------------------------------------------
# From the cluster view


def test_home_volume_is_where_most_disk_bytes_are():
    find = volume_finder(CSVS)

    def disks(*items):
        return [{"Path": f"C:\\ClusterStorage\\Volume{v}\\X\\d{i}.vhdx", "FileSize": size} for i, (v, size) in enumerate(items)]

    config1 = "C:\\ClusterStorage\\Volume1\\X"
    assert home_volume({"Path": config1, "HardDisks": disks((1, 10), (2, 30))}, find) == \
        ("Cluster Disk 2", "Cluster Disk 2 holds most of its disk bytes")
    assert home_volume({"Path": config1, "HardDisks": disks((1, 20), (2, 20))}, find) == \
        ("Cluster Disk 1", "its disk bytes are split evenly; its configuration is on Cluster Disk 1")
    assert home_volume({"Path": "D:\\VMs\\X", "HardDisks": disks((1, 20), (2, 20))}, find) == \
        (None, "its disk bytes are split evenly between Cluster Disk 1 and Cluster Disk 2 and its configuration is on neither")
    assert home_volume({"Path": config1, "HardDisks": disks((1, 50), (2, None), (2, 1))}, find) == \
        ("Cluster Disk 2", "Cluster Disk 2 holds most of its disks (some disk sizes are unknown)")
    assert home_volume({"Path": config1, "HardDisks": []}, find) == (None, "it has no virtual disk")
    assert home_volume({"Path": config1, "HardDisks": [{"Path": "D:\\local.vhdx", "FileSize": 5}]}, find) == \
        (None, "none of its virtual disks is on a CSV")


def placement_facts():
    """Three nodes' host_facts with the keys placement reads (MemoryCapacity, DrainStatus, roles' owners)."""
    roles = []
    sql = vm("SQL01", volume=1, MemoryAssigned=8 * G, MemoryStartup=8 * G)
    web = vm("WEB01", volume=2, MemoryAssigned=2 * G, AntiAffinityClassNames=["web"])
    off = vm("OFF01", volume=1, node_state="Off", MemoryAssigned=0, MemoryStartup=4 * G)
    sql["HardDisks"][0]["FileSize"] = 40 * G
    web["HardDisks"][0]["FileSize"] = 10 * G
    for item, owner in ((sql, "HV02"), (web, "HV01"), (off, "HV03")):
        roles.append({"Name": item["Name"], "VMId": item["Id"], "OwnerNode": owner, "State": "Online",
                      "AntiAffinityClassNames": item["AntiAffinityClassNames"], "PossibleOwners": ["HV01", "HV02"],
                      "PreferredOwners": ["HV02"], "AutoFailbackType": 1})
    roles.append({"Name": "SQL01", "VMId": "00000000-0000-0000-0000-00000000dead", "OwnerNode": "HV03",
                  "PossibleOwners": ["HV03"]})  # another VM of the same name: joined by ID, not by name
    facts = [node("HV01", [web]), node("HV02", [sql]), node("HV03", [off])]
    for index, facts_of_node in enumerate(facts):
        facts_of_node["node"]["MemoryCapacity"] = (256 + index) * G
        facts_of_node["cluster"]["Nodes"] = [{"Name": "HV01", "State": "Up", "Id": "1", "DrainStatus": "NotInitiated"},
                                             {"Name": "HV02", "State": "Up", "Id": "2", "DrainStatus": "InProgress"},
                                             {"Name": "HV03", "State": "Paused", "Id": "3"}]
        facts_of_node["cluster"]["VMRoles"] = roles
        facts_of_node["cluster"].update(CsvBalancer=1, AutoBalancerMode=2, AutoBalancerLevel=1)
    return facts


def test_placement_input_reads_the_view():
    problem = placement_input(cluster_view(placement_facts()))
    assert problem["nodes"] == [
        {"name": "HV01", "state": "Up", "drain_status": "NotInitiated", "memory_capacity": 256 * G},
        {"name": "HV02", "state": "Up", "drain_status": "InProgress", "memory_capacity": 257 * G},
        {"name": "HV03", "state": "Paused", "drain_status": "NotInitiated", "memory_capacity": 258 * G}]
    assert problem["csvs"] == [{"name": c["Name"], "owner": c["OwnerNode"], "state": "Online", "path": c["Path"]} for c in CSVS]
    by_name = {v["name"]: v for v in problem["vms"]}
    assert by_name["SQL01"] == {
        "id": str(uuid.uuid5(uuid.NAMESPACE_DNS, "SQL01")), "name": "SQL01", "node": "HV02", "state": "Running",
        "memory": 8 * G, "csv": "Cluster Disk 1", "csv_reason": "Cluster Disk 1 holds most of its disk bytes",
        "clustered": True, "anti_affinity": [], "possible_owners": ["HV01", "HV02"], "preferred_owners": ["HV02"],
        "auto_failback": True}
    assert by_name["OFF01"]["memory"] == 0 and by_name["WEB01"]["anti_affinity"] == ["web"]
    assert by_name["OFF01"]["csv_reason"] == "Cluster Disk 1 holds most of its disks (some disk sizes are unknown)"
    assert problem["balancer"] == {"CsvBalancer": 1, "AutoBalancerMode": 2, "AutoBalancerLevel": 1}
    plan = plan_placement(problem, {"strategy": "migrate_vms"})
    # OFF01 on HV03 goes to HV01 (HV03 is Paused, but leaving it is fine); WEB01 may not go to HV02 (draining).
    assert moves(plan) == [("vm", "OFF01", "HV03", "HV01"), ("vm", "SQL01", "HV02", "HV01")]
    assert [(u["vm"], u["reason"]) for u in plan["unaligned"]] == [("WEB01", "HV02 is draining")]


def test_placement_input_defaults_when_keys_are_absent():
    problem = placement_input(cluster_view([node("HV01", [vm("A", volume=2)]), node("HV02", [])]))
    assert problem["nodes"][0] == {"name": "HV01", "state": "Up", "drain_status": "NotInitiated", "memory_capacity": None}
    [entry] = problem["vms"]
    assert (entry["memory"], entry["possible_owners"], entry["preferred_owners"], entry["auto_failback"]) == (None, [], [], False)
    assert problem["balancer"] == {"CsvBalancer": None, "AutoBalancerMode": None, "AutoBalancerLevel": None}
    plan = plan_placement(problem)
    assert moves(plan) == [("vm", "A", "HV01", "HV02")] and plan["moves"][0]["cost"] == 0
    assert any("the memory of A is unknown" in w for w in plan["warnings"])


def test_placement_input_refuses_an_incomplete_view():
    with pytest.raises(PlacementError, match=r"incomplete: HV02 is Up but reported no facts.*host_facts on every node"):
        placement_input(cluster_view([node("HV01", [])]))
    facts = node("HV01", [])
    facts["cluster"]["Nodes"][1]["State"] = "Down"  # a node that is down has no VMs to report
    assert placement_input(cluster_view([facts]))["nodes"][1]["state"] == "Down"
    with pytest.raises(PlacementError, match="no failover cluster"):
        placement_input(cluster_view([node("HV01", [], cluster=False)]))
