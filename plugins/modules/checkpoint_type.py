# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the action plugin plugins/action/checkpoint_type.py plans on the controller and
# plugins/modules/checkpoint_type.ps1 carries the changes out on the Hyper-V host.

DOCUMENTATION = r"""
module: checkpoint_type
short_description: Set the checkpoint type and automatic checkpoints of Hyper-V VMs
version_added: 0.1.0
description:
  - Sets the checkpoint type of the selected VMs of a Hyper-V host (C(Set-VM -CheckpointType)) and,
    optionally, whether Hyper-V takes automatic checkpoints (C(Set-VM -AutomaticCheckpointsEnabled)).
  - Backups need C(Production) or C(ProductionOnly) checkpoints for application-consistent VM copies;
    automatic checkpoints grow AVHDX chains on production servers.
  - Reads the host in one round trip (M(hyperv.backup.host_facts)), decides on the controller and, when
    something must change, applies every change in one more round trip. In check mode only the first is
    made and the result says exactly what a real run would change.
  - Per-VM failures do not stop the other VMs; the task fails afterwards if any VM failed.
extends_documentation_fragment:
  - hyperv.backup.attributes
  - hyperv.backup.facts
  - hyperv.backup.vm_selection
options:
  checkpoint_type:
    description:
      - The checkpoint type a VM gets when its type is not one of O(compliant_types).
      - C(Production) uses VSS (or a file system freeze on Linux) in the guest and falls back to a
        standard checkpoint when it cannot; C(ProductionOnly) fails instead of falling back; C(Standard)
        also saves the memory state; C(Disabled) allows no checkpoints, which also breaks host-level
        backups.
      - C(Production) and C(ProductionOnly) need VM configuration version 6.2 or later. An older VM is
        left alone, with status C(pending) and a message naming its version and the fix
        (C(Update-VMVersion), which needs the VM off and cannot be undone, so this module never runs it).
      - A VM in a critical state, such as C(OffCritical) or C(RunningCritical) (the storage that holds it is
        not accessible), cannot be changed; it is left alone with status C(pending) and a message saying so.
      - At least one of O(checkpoint_type) and O(automatic_checkpoints) is needed.
    type: str
    choices: [Disabled, Production, ProductionOnly, Standard]
  compliant_types:
    description:
      - The checkpoint types that are left alone. A VM with another type gets O(checkpoint_type).
      - By default, O(checkpoint_type) and any stricter type of the production family. V(Production) leaves
        C(Production) and C(ProductionOnly) VMs alone (both give application-consistent backups, which is what
        the P(hyperv.backup.readiness#filter) check accepts by default), so a VM is never downgraded from
        C(ProductionOnly) to C(Production). Any other type leaves only itself alone.
      - Must include O(checkpoint_type) (otherwise a VM given it would be changed again on every run).
        Needs O(checkpoint_type).
    type: list
    elements: str
    choices: [Disabled, Production, ProductionOnly, Standard]
  automatic_checkpoints:
    description:
      - Whether Hyper-V takes a checkpoint when the VM starts. Leave unset to keep what the VMs have.
      - A host without automatic checkpoints (Windows Server 2016 and older, where C(Set-VM) has no
        C(AutomaticCheckpointsEnabled) parameter) is left alone for this setting, with a note in RV(notes);
        the checkpoint type is still applied there.
    type: bool
attributes:
  check_mode:
    description: Can run in check_mode and return the changed status without modifying the target.
    support: full
  diff_mode:
    description: Returns before and after settings per VM, keyed by VM name, in diff mode.
    support: full
notes:
  - Changing the checkpoint type or automatic checkpoints does not need the VM to be off.
  - Hyper-V allows two VMs of the same name. Results list each VM with its ID; the diff keys such VMs as
    C(<name> (<id>)).
  - With O(facts), the facts must hold the C(cluster) and C(vms) subsets of M(hyperv.backup.host_facts)
    (C(cluster) tells a VM of another node from a name that matches nothing). The host reads each VM again
    before C(Set-VM) and changes only what still differs from the plan's type.
seealso:
  - module: hyperv.backup.host_facts
  - module: hyperv.backup.scsi_controller
  - name: Set-VM
    description: The cmdlet this module uses.
    link: https://learn.microsoft.com/powershell/module/hyper-v/set-vm
  - name: Choose between standard or production checkpoints in Hyper-V
    description: What the checkpoint types mean.
    link: https://learn.microsoft.com/windows-server/virtualization/hyper-v/manage/choose-between-standard-or-production-checkpoints-in-hyper-v
author:
  - hyperv.backup maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
# Ad hoc, every VM of every host of the inventory group hv, dry run with diff:
#   ansible hv -m hyperv.backup.checkpoint_type -a 'checkpoint_type=Production' --check --diff

- name: Production checkpoints and no automatic checkpoints on every VM (ProductionOnly VMs are left alone)
  hyperv.backup.checkpoint_type:
    checkpoint_type: Production
    automatic_checkpoints: false

- name: Production for every VM, leaving alone the VMs that must not be checkpointed (Disabled)
  hyperv.backup.checkpoint_type:
    checkpoint_type: Production
    compliant_types: [Production, ProductionOnly, Disabled]

- name: ProductionOnly for the SQL Server VMs, by pattern, except a test VM
  hyperv.backup.checkpoint_type:
    checkpoint_type: ProductionOnly
    vms: ['SQL*']
    exclude: [SQL-TEST01]

- name: Production for running generation 2 VMs, chosen with a JMESPath query
  hyperv.backup.checkpoint_type:
    checkpoint_type: Production
    query: "[?Generation==`2` && State=='Running']"

- name: One VM by its ID
  hyperv.backup.checkpoint_type:
    checkpoint_type: Production
    vms: ['{6C38BFDB-75FA-5BC2-B913-87F3CDC99D2F}']
"""

RETURN = r"""
changed:
  description: Whether any VM changed (in check mode, would change).
  returned: always
  type: bool
vms:
  description: One entry per selected VM, ordered by name.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The VM ID, lower case without braces.
      type: str
      sample: d9e0eb0a-5b37-508e-9173-67e9ade83acf
    name:
      description: The VM name.
      type: str
      sample: SQL01
    before:
      description: The managed settings before the task, as C(Get-VM) names them.
      type: dict
      sample: {CheckpointType: Standard, AutomaticCheckpointsEnabled: true}
    after:
      description:
        - The managed settings after the task, as the host read them back after C(Set-VM) (in check mode, what
          they would be). A VM whose setting did not take although C(Set-VM) returned without an error fails.
      type: dict
      sample: {CheckpointType: Production, AutomaticCheckpointsEnabled: false}
    status:
      description:
        - C(ok) (nothing to do), C(changed) (changed, or would change in check mode), C(pending) (left
          alone because its configuration version is too old for the asked type, see C(msg)) or C(failed).
      type: str
      sample: changed
    msg:
      description: Why a VM failed, as the host reported it, or why it is pending and what fixes it.
      type: str
      returned: when status is failed or pending
counts:
  description: How many VMs were selected and how many ended in each status.
  returned: always
  type: dict
  sample: {selected: 3, changed: 2, ok: 1, pending: 0, failed: 0}
pending:
  description: The VMs left alone and why (also in their RV(vms) entries).
  returned: always
  type: list
  elements: dict
  sample: [{id: 3f2504e0-4f89-11d3-9a0c-0305e82c3301, name: LEGACY01,
            reason: "configuration version 5.0: Production checkpoints need version 6.2 or later; ..."}]
notes:
  description: What was left alone on the whole host and why, such as automatic checkpoints on a host without them.
  returned: always
  type: list
  elements: str
  sample: ["automatic_checkpoints: HV04 (Windows build 14393) has no automatic checkpoints (...): the setting was left alone on its VMs"]
elsewhere:
  description: VMs named (by name or ID) in O(vms) that are clustered VM roles owned by another node, left to that node.
  returned: always
  type: list
  elements: dict
  sample: [{name: WEB01, node: HV02}]
diff:
  description:
    - Per-VM settings before and after, keyed by VM name, for the VMs that change.
    - VMs that share a name are keyed C(<name> (<id>)), so none hides another.
  returned: in diff mode
  type: dict
  sample: {before: {SQL01: {CheckpointType: Standard}}, after: {SQL01: {CheckpointType: Production}}}
msg:
  description: What went wrong, naming the VMs or the value.
  returned: on failure
  type: str
"""
