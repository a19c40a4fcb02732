# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the action plugin plugins/action/cluster_config_store.py plans on the controller and
# plugins/modules/cluster_config_store.ps1 carries the change out on a node of the failover cluster.

DOCUMENTATION = r"""
module: cluster_config_store
short_description: Set the ConfigStoreRootPath of a Hyper-V failover cluster, once
version_added: 0.1.0
description:
  - Sets C(ConfigStoreRootPath), a parameter of the cluster resource of type C(Virtual Machine Cluster WMI),
    to a folder on a Cluster Shared Volume. Hyper-V keeps the VM groups (Hyper-V collections) there, which
    the recovery checkpoints of VHD Sets (shared disks of guest clusters) need; without it such checkpoints,
    and so host-level backups of guest clusters, fail.
  - Windows does not allow changing C(ConfigStoreRootPath) once it has a value (C(The request is not
    supported), Microsoft KB 4488568). So it is set only when it is empty. The same folder (compared without
    regard to case) is V(ok); another folder is never overwritten, see O(on_conflict).
  - The folder must exist when the value is set (a value naming a missing folder breaks live migration and
    cannot be corrected afterwards); the module creates it unless O(create_folder=false).
  - Reads the node in one round trip (M(hyperv.backup.host_facts), the C(cluster) subset) and judges the path
    against the cluster's CSVs on the controller; when the value must be set, one more round trip sets it on
    that node with the cluster cmdlets. In check mode only the first is made.
  - The parameter is cluster-wide, so one node is enough. Run the task with C(run_once) (or on one node of
    each cluster). Run on several nodes at once, the first sets it and the others, which read it again before
    setting, find it set and report V(ok).
extends_documentation_fragment:
  - hyperv.backup.attributes
  - hyperv.backup.facts
options:
  path:
    description:
      - The folder, an absolute path on a Cluster Shared Volume of the node's cluster, such as
        C(C:\ClusterStorage\Volume1\Hyper-V\ConfigStore). The CSV's own folder
        (C(C:\ClusterStorage\Volume1)) is allowed too.
      - Choose it with care, it cannot be changed later. Put it on a CSV that will not be retired or renamed.
      - Forward slashes and a trailing separator are accepted and normalized. A path that is not absolute, not
        on a CSV of the cluster, on a CSV that is not Online, or that has control characters, C(.) or C(..)
        segments or characters Windows does not allow in folder names, is an error and nothing is changed.
    type: str
    required: true
  create_folder:
    description:
      - Create the folder (and the folders above it) when it does not exist, before setting the value.
      - With V(false), a missing folder fails the task and nothing is set.
      - If setting the value then fails, the folders this task created are removed again.
    type: bool
    default: true
  on_conflict:
    description:
      - What to do when C(ConfigStoreRootPath) already has another value, which Windows does not allow to
        change. Either way nothing is changed.
      - V(warn) reports RV(status=conflict) with a warning naming both folders, and the task does not fail. A
        nightly converge run cannot change the value either; failing it every night would bury other failures,
        and the value that is set serves the VM groups as well (the warning says so when it is not on a CSV).
      - V(fail) fails the task with the same message, for a playbook that must prove the cluster is exactly as
        declared.
    type: str
    choices: [warn, fail]
    default: warn
attributes:
  check_mode:
    description: Can run in check_mode and return the changed status without modifying the target.
    support: full
  diff_mode:
    description: Returns the value of C(ConfigStoreRootPath) before and after in diff mode.
    support: full
notes:
  - The node must be a node of a running failover cluster. A cluster without a C(Virtual Machine Cluster WMI)
    resource is an error that says where it comes from; this module does not create it.
  - The resource is found by its type, not its name, which an administrator may change.
  - Hyper-V creates the C(Groups), C(Persistent Tasks) and C(Snapshot Groups) folders under the folder as it
    needs them.
  - With O(facts), the facts (of any node of the cluster) must hold the C(cluster) subset of
    M(hyperv.backup.host_facts). The node reads the value again before setting it, so a value set since the
    facts were gathered is never overwritten (V(ok) or V(conflict)).
seealso:
  - module: hyperv.backup.host_facts
  - name: Can't change the ConfigStoreRootPath value of a Hyper-V cluster (KB 4488568)
    description: Why the value cannot be changed once set.
    link: https://learn.microsoft.com/troubleshoot/windows-server/virtualization/cannot-change-configstorerootpath-value-hyperv-cluster
  - name: Set-ClusterParameter
    description: The cmdlet this module uses.
    link: https://learn.microsoft.com/powershell/module/failoverclusters/set-clusterparameter
author:
  - hyperv.backup maintainers
"""

EXAMPLES = r"""
# Ad hoc, on every node of the inventory group hv (the first sets it, the others find it set):
#   ansible hv -m hyperv.backup.cluster_config_store -a 'path=C:\ClusterStorage\Volume1\Hyper-V\ConfigStore' --check --diff

- name: Give the cluster its configuration store for VM groups, once per cluster
  hyperv.backup.cluster_config_store:
    path: C:\ClusterStorage\Volume1\Hyper-V\ConfigStore
  run_once: true
  register: config_store

- name: Show what the cluster has
  ansible.builtin.debug:
    msg: "ConfigStoreRootPath is {{ config_store.after.ConfigStoreRootPath }} ({{ config_store.status }})"
  run_once: true

- name: In an audit, fail if the cluster has another configuration store than the one declared
  hyperv.backup.cluster_config_store:
    path: C:\ClusterStorage\Volume1\Hyper-V\ConfigStore
    on_conflict: fail
  check_mode: true
  run_once: true
"""

RETURN = r"""
changed:
  description: Whether the value was set or a folder was created (in check mode, whether the value would be set).
  returned: always
  type: bool
status:
  description:
    - V(changed) (set, or would be set in check mode), V(ok) (already this folder), V(conflict) (already
      another folder, left as it is, see O(on_conflict)) or V(failed) (setting it failed on the node, see RV(msg)).
  returned: when the value was read and the path judged
  type: str
  sample: changed
before:
  description:
    - The value before the task, as C(Get-ClusterParameter) reads it (V('') when unset). When the node read it
      again before setting it and found it set meanwhile (by another node), that value.
  returned: when the value was read and the path judged
  type: dict
  sample: {ConfigStoreRootPath: ''}
after:
  description:
    - The value after the task, as the node read it back after C(Set-ClusterParameter) (in check mode, what
      it would be). A value that did not take although the cmdlet returned without an error fails the task.
  returned: when the value was read and the path judged
  type: dict
  sample: {ConfigStoreRootPath: 'C:\ClusterStorage\Volume1\Hyper-V\ConfigStore'}
path:
  description: O(path) as it is set, separators normalized.
  returned: when the value was read and the path judged
  type: str
  sample: C:\ClusterStorage\Volume1\Hyper-V\ConfigStore
shared_volume:
  description: The Cluster Shared Volume that holds O(path), as M(hyperv.backup.host_facts) reports it.
  returned: when the value was read and the path judged
  type: dict
  sample: {Name: Cluster Disk 1, Path: 'C:\ClusterStorage\Volume1', OwnerNode: HV01, State: Online}
folder_created:
  description: Whether the task created the folder (it did not exist).
  returned: when the value was set, not in check mode
  type: bool
  sample: true
diff:
  description: C(ConfigStoreRootPath) before and after, when it changes.
  returned: in diff mode
  type: dict
  sample: {before: {ConfigStoreRootPath: ''}, after: {ConfigStoreRootPath: 'C:\ClusterStorage\Volume1\Hyper-V\ConfigStore'}}
msg:
  description: What went wrong, naming the value.
  returned: on failure
  type: str
"""
