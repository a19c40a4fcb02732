# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the action plugin plugins/action/csv_placement.py plans on the controller and
# plugins/modules/csv_placement.ps1 carries the moves out on one node of the cluster.

DOCUMENTATION = r"""
module: csv_placement
short_description: Run each Hyper-V VM on the node that owns its Cluster Shared Volume, at least cost
version_added: 0.1.0
description:
  - Backups that snapshot a Cluster Shared Volume (CSV) once for all its VMs, and hardware VSS providers,
    need every VM of a CSV to run on the node that owns that CSV. This module plans and carries out the
    moves that bring them together - live-migrating VMs (C(Move-ClusterVirtualMachineRole)) and moving CSV
    ownership (C(Move-ClusterSharedVolume)) - choosing per CSV whichever costs least, under the cluster's
    constraints (node state, possible owners, anti-affinity, memory headroom).
  - It plans from O(cluster_view), the view of the whole cluster built on the controller from the facts of
    every node (M(hyperv.backup.host_facts) on each node, merged with the
    P(hyperv.backup.cluster_view#filter) filter). Run it once per cluster, on one node (C(run_once)); that
    node carries out every move with the cluster cmdlets, so no second hop is needed. The role
    C(hyperv.backup.csv_affinity) and the playbook C(playbooks/rebalance_csv.yml) do all of this.
  - A VM belongs to the CSV that holds most of its virtual disk bytes; see C(docs/csv-placement.md) for the
    rules, the cost model and why the plan is optimal.
  - In check mode the plan is returned (RV(plan), and RV(table) to read) and nothing is sent to the host. A
    real run makes the moves one module run at a time (or O(parallel) at a time) and prints a line on the
    controller as each completes (VM or CSV, from, to, seconds). It goes on past a failed move, skips the
    VM moves that depended on a CSV move that failed, and fails the task afterwards naming every failure
    with the cluster's own message. Running it again plans from the new placement and finishes the job.
  - The cluster's own placement rules (the CSV balancer, VM load balancing, failback to preferred owners)
    may undo moves; the plan says which (C(may_be_undone_by) of each of RV(plan.moves)) and warns. It never changes
    those settings.
extends_documentation_fragment:
  - hyperv.backup.attributes
options:
  cluster_view:
    description:
      - The view of the cluster from the P(hyperv.backup.cluster_view#filter) filter, built from the
        C(hyperv_backup) facts of B(every) node of the cluster, gathered with at least the C(cluster) and
        C(vms) subsets.
      - A view in which a node that is Up reported no facts is refused (the VMs it runs would be unknown),
        with a message saying how to get a complete one.
    type: dict
    required: true
  strategy:
    description:
      - V(auto) chooses per CSV between keeping its owner and migrating its VMs to it, or moving the CSV to
        another node and migrating the rest there, whichever costs least; the plan is optimal for the cost
        model under the constraints.
      - V(migrate_vms) keeps every CSV where it is and migrates its VMs to its owner (the usual field
        script).
      - V(move_csvs) moves each CSV to the node that runs most of its VMs' memory, then migrates the rest.
    type: str
    choices: [auto, migrate_vms, move_csvs]
    default: auto
  migration_type:
    description:
      - How a running VM is moved. V(live) has no downtime; V(quick) saves the VM, moves it and resumes it.
      - A VM that is Off or Saved is moved as the cluster moves such a role, by changing its owner
        (C(Move-ClusterGroup)); it stays Off or Saved.
    type: str
    choices: [live, quick]
    default: live
  csv_move_cost:
    description:
      - What moving one CSV's ownership costs, in bytes-equivalent of VM memory to copy (a running VM's
        migration costs its memory). The default, 16 GiB, is about two typical VMs.
    type: int
    default: 17179869184
  memory_headroom:
    description:
      - Memory every node receiving running VMs must keep free, counting every VM it receives and none that
        leaves; a number of bytes or a percentage of the node's memory such as V(10%). Unset, memory is not
        checked by the plan (the cluster still refuses a migration to a node without the memory).
    type: raw
  max_moves:
    description:
      - At most this many moves in this run; the rest are listed under RV(plan.deferred) for the next run.
        The smallest CSVs are completed first.
    type: int
  exclude:
    description:
      - VMs to leave where they are, by name, glob pattern or ID. They still count for anti-affinity and
        memory.
    type: list
    elements: str
    default: []
  parallel:
    description:
      - How many moves run at once (1 to 16). With more than one, each batch of moves starts together on
        the node and the task waits for all of them; the cluster still limits how many live migrations a
        host runs at a time. A VM move never shares a batch with the move of its CSV.
    type: int
    default: 1
  timeout:
    description:
      - Seconds the cluster is given to complete one move (C(-Wait) of the cluster cmdlets), 1 to 86400. A
        move not completed by then is reported failed with the owner the cluster shows; the cluster may
        still complete it, and a new run sees where it ended.
    type: int
    default: 3600
  search_limit:
    description:
      - Steps the exact search may take on a cluster whose CSVs compete for the same node's memory or
        anti-affinity classes. When reached, the best plan found is used and RV(plan.optimal) is false.
    type: int
    default: 20000
attributes:
  check_mode:
    description: Returns the plan and its table; nothing is sent to the host.
    support: full
  diff_mode:
    description: Returns the owner node of every VM and CSV the plan moves, before and after.
    support: full
notes:
  - Run it on one node of the cluster (C(run_once)) with the view of all nodes. The node carries out the
    moves with the FailoverClusters cmdlets, locally; it checks that it is a node of the cluster the view
    describes.
  - A move is made only when its VM or CSV is still where the plan saw it; one that moved since is
    reported failed and the next run plans from the new placement.
  - VM moves use the cluster's rules for the VM's state at the time of the move. A VM that is starting,
    stopping or saving is not moved.
  - The planner reads C(MemoryAssigned) and C(HardDisks[].FileSize) of the VMs, C(MemoryCapacity) of the
    nodes, C(DrainStatus) of the cluster nodes, the cluster's C(CsvBalancer), C(AutoBalancerMode) and
    C(AutoBalancerLevel), and each VM role's C(PossibleOwners), C(PreferredOwners) and C(AutoFailbackType),
    all reported by M(hyperv.backup.host_facts).
seealso:
  - module: hyperv.backup.host_facts
  - plugin: hyperv.backup.cluster_view
    plugin_type: filter
  - name: Move-ClusterVirtualMachineRole
    description: The cmdlet that migrates a running VM role.
    link: https://learn.microsoft.com/powershell/module/failoverclusters/move-clustervirtualmachinerole
  - name: Move-ClusterSharedVolume
    description: The cmdlet that moves a CSV's ownership.
    link: https://learn.microsoft.com/powershell/module/failoverclusters/move-clustersharedvolume
author:
  - hyperv.backup maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
# The view needs the facts of every node, so this runs in a play over all nodes of the cluster (group hv);
# the role hyperv.backup.csv_affinity and playbooks/rebalance_csv.yml do the same.

- name: Read every node of the cluster
  hyperv.backup.host_facts:
    gather_subset: [cluster, vms]

- name: Plan only (check mode changes nothing)
  hyperv.backup.csv_placement:
    cluster_view: "{{ ansible_play_hosts | map('extract', hostvars, ['ansible_facts', 'hyperv_backup'])
                      | hyperv.backup.cluster_view }}"
  check_mode: true
  run_once: true
  register: hv_placement

- name: Show the plan as a table
  ansible.builtin.debug:
    msg: "{{ hv_placement.table }}"
  run_once: true

- name: What the field script would do, for comparison (migrate every VM to its CSV's owner)
  hyperv.backup.csv_placement:
    cluster_view: "{{ ansible_play_hosts | map('extract', hostvars, ['ansible_facts', 'hyperv_backup'])
                      | hyperv.backup.cluster_view }}"
    strategy: migrate_vms
  check_mode: true
  run_once: true

- name: Align the VMs with their CSV owners, two moves at a time, keeping 10 % of each node's memory free
  hyperv.backup.csv_placement:
    cluster_view: "{{ ansible_play_hosts | map('extract', hostvars, ['ansible_facts', 'hyperv_backup'])
                      | hyperv.backup.cluster_view }}"
    memory_headroom: 10%
    parallel: 2
    exclude: ['VEEAM-PROXY*']
  run_once: true
"""

RETURN = r"""
changed:
  description: Whether a move was made (in check mode, whether the plan has moves).
  returned: always
  type: bool
moves:
  description:
    - The moves of this run, in the order of the plan, with what came of each.
    - C(status) is C(planned) (check mode), C(moved), C(ok) (already on its target when the move came), C(failed)
      (C(error) has the cluster's message), or C(skipped) (C(error) says why, for instance
      that the move of its CSV failed).
    - C(method) is how the cluster moved it - C(live), C(quick), C(ownership) (a VM that is Off or Saved, or
      a CSV) - and C(seconds) how long it took.
  returned: always
  type: list
  elements: dict
  sample:
    - {kind: csv, name: Cluster Disk 2, id: Cluster Disk 2, from: HV02, to: HV03, status: moved, method: ownership,
       seconds: 2.0, owner: HV03, depends_on: null}
    - {kind: vm, name: WEB04, id: 3f2504e0-4f89-11d3-9a0c-0305e82c3301, from: HV02, to: HV03, status: moved,
       method: live, seconds: 6.1, owner: HV03, depends_on: Cluster Disk 2}
plan:
  description:
    - The plan (C(docs/csv-placement.md), "The plan") - C(strategy), C(optimal), C(moves) (each with C(kind),
      C(name), C(id), C(from), C(to), C(migration), C(cost), C(reason), C(may_be_undone_by) and, for a VM,
      C(state), C(csv), C(depends_on)), C(deferred), C(unaligned), C(left_alone), C(csvs), C(cost),
      C(deferred_cost), C(objective), C(search), C(summary) and C(warnings).
  returned: always
  type: dict
  contains:
    moves:
      description: The moves of this run.
      type: list
      elements: dict
    deferred:
      description: Moves left for the next run by O(max_moves).
      type: list
      elements: dict
    unaligned:
      description: VMs a constraint keeps off their CSV's owner, with the reason.
      type: list
      elements: dict
      sample: [{vm: GC-SQL-N2, id: 8c6e..., node: HV03, csv: Cluster Disk 2, owner: HV02,
                reason: "anti-affinity class 'GC-SQL': GC-SQL-N1 runs on HV02"}]
    left_alone:
      description: VMs the plan does not consider, with the reason (excluded, no disk on a CSV, not movable now).
      type: list
      elements: dict
    optimal:
      description: Whether the plan is proven optimal (false only when O(search_limit) stopped the search).
      type: bool
    summary:
      description: VMs on a CSV, how many run on its owner before and after this run's moves, moves, deferred.
      type: dict
      sample: {vms: 30, on_csv: 30, aligned_before: 22, aligned_after: 29, aligned_planned: 29, left_alone: 0,
               unaligned: 1, moves: 7, deferred: 0}
    warnings:
      description: What may undo the plan (the balancers, failback) and what the plan could not know.
      type: list
      elements: str
table:
  description: The plan as lines of a readable table, with what is deferred, cannot be aligned or is left alone.
  returned: always
  type: list
  elements: str
counts:
  description: How many moves were planned and how many ended in each status.
  returned: always
  type: dict
  sample: {planned: 7, moved: 6, ok: 0, failed: 1, skipped: 0, deferred: 0}
diff:
  description: The owner node of each VM and CSV the plan moves, before and after (in check mode, as planned).
  returned: in diff mode
  type: dict
  sample: {before: {"CSV Cluster Disk 2": HV02, "VM WEB04": HV02}, after: {"CSV Cluster Disk 2": HV03, "VM WEB04": HV03}}
msg:
  description: What failed, naming each move with the cluster's message, or the bad value.
  returned: on failure
  type: str
"""
