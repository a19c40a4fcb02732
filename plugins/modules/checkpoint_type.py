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
  - hyperv.backup.vm_selection
options:
  checkpoint_type:
    description:
      - The checkpoint type the VMs must have.
      - C(Production) uses VSS (or a file system freeze on Linux) in the guest and falls back to a
        standard checkpoint when it cannot; C(ProductionOnly) fails instead of falling back; C(Standard)
        also saves the memory state; C(Disabled) allows no checkpoints, which also breaks host-level
        backups.
      - At least one of O(checkpoint_type) and O(automatic_checkpoints) is needed.
    type: str
    choices: [Disabled, Production, ProductionOnly, Standard]
  automatic_checkpoints:
    description:
      - Whether Hyper-V takes a checkpoint when the VM starts. Leave unset to keep what the VMs have.
      - Needs a host of Windows build 16299 (version 1709) or later; on an older host the task fails
        before changing anything, naming the host and its build.
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
  - hyperv.backup maintainers
"""

EXAMPLES = r"""
# Ad hoc, every VM of every host of the inventory group hv, dry run with diff:
#   ansible hv -m hyperv.backup.checkpoint_type -a 'checkpoint_type=Production' --check --diff

- name: Production checkpoints and no automatic checkpoints on every VM
  hyperv.backup.checkpoint_type:
    checkpoint_type: Production
    automatic_checkpoints: false

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
      description: C(ok) (nothing to do), C(changed) (changed, or would change in check mode) or C(failed).
      type: str
      sample: changed
    msg:
      description: Why a VM failed, as the host reported it.
      type: str
      returned: when status is failed
counts:
  description: How many VMs were selected and how many ended in each status.
  returned: always
  type: dict
  sample: {selected: 3, changed: 2, ok: 1, pending: 0, failed: 0}
elsewhere:
  description: VMs named (by name or ID) in O(vms) that are clustered VM roles owned by another node, left to that node.
  returned: always
  type: list
  elements: dict
  sample: [{name: WEB01, node: HV02}]
diff:
  description: Per-VM settings before and after, keyed by VM name, for the VMs that change.
  returned: in diff mode
  type: dict
  sample: {before: {SQL01: {CheckpointType: Standard}}, after: {SQL01: {CheckpointType: Production}}}
msg:
  description: What went wrong, naming the VMs or the value.
  returned: on failure
  type: str
"""
