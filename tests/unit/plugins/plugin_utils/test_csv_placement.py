import copy
import itertools
import random

import pytest

from ansible_collections.hyperv.backup.plugins.plugin_utils._cluster_view import cluster_view
from ansible_collections.hyperv.backup.plugins.plugin_utils._csv_placement import (
    DEFAULT_CSV_MOVE_COST, PlacementError, _Planner, check_options, home_volume, placement_input, plan_placement,
    render_plan)
from tests.unit.factsdata import node, vm

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
