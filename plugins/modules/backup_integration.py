# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the action plugin plugins/action/backup_integration.py plans on the controller and
# plugins/modules/backup_integration.ps1 carries the changes out on the Hyper-V host.

DOCUMENTATION = r"""
module: backup_integration
short_description: Enable the Backup (volume shadow copy) integration service of Hyper-V VMs
version_added: 0.1.0
description:
  - Enables the Backup (volume shadow copy) integration service of the selected VMs of a Hyper-V host
    (C(Enable-VMIntegrationService)), or disables it with O(state=disabled).
  - Through this service Hyper-V asks the guest to take a VSS snapshot inside the VM, which makes a host-level
    backup application consistent. Without it a backup falls back to a crash-consistent copy or to saving the
    VM's state.
  - The service is found by its integration component ID (the C(Id) of C(Get-VMIntegrationService) ends with
    C(5CED1297-4598-4915-A5FC-AD21BB4D02A4)), never by its name, which is localized (C(VSS) on an English
    host, another name on a German or Japanese one).
  - Reads the host in one round trip (M(hyperv.backup.host_facts)), decides on the controller and, when
    something must change, applies every change in one more round trip. In check mode only the first is
    made and the result says exactly what a real run would change.
  - Per-VM failures do not stop the other VMs; the task fails afterwards if any VM failed.
extends_documentation_fragment:
  - hyperv.backup.attributes
  - hyperv.backup.facts
  - hyperv.backup.vm_selection
options:
  state:
    description:
      - V(enabled) turns the service on where it is off (the fix for backups).
      - V(disabled) turns it off, for a guest whose in-guest shadow copy must not run; its backups are then
        crash-consistent or saved-state copies.
    type: str
    choices: [enabled, disabled]
    default: enabled
attributes:
  check_mode:
    description: Can run in check_mode and return the changed status without modifying the target.
    support: full
  diff_mode:
    description: Returns whether the service is enabled before and after per VM, keyed by VM name, in diff mode.
    support: full
notes:
  - The service is changed on VMs that are Off or Running; a Running guest starts (or stops) its side of the
    service by itself. A VM in any other state (Saved, Paused, starting, ...) is left alone as RV(vms[].status=pending)
    with the reason; start it or turn it off and run the task again.
  - A VM whose integration services could not be read (a critical state, for example; the task's warnings say
    why) or that has no such service is pending, nothing is planned for it.
  - The host's side is what this module changes. A guest must also run the service itself, as the Windows
    service C(Hyper-V Volume Shadow Copy Requestor) (C(vmicvss)) or, in a Linux guest, C(hv_vss_daemon). A
    Running VM whose guest does not answer (RV(vms[].guest_status) other than C(OK)) is named in RV(notes).
  - Hyper-V allows two VMs of the same name. Results list each VM with its ID; the diff keys such VMs as
    C(<name> (<id>)).
  - With O(facts), the facts must hold the C(cluster) and C(vms) subsets of M(hyperv.backup.host_facts). The
    host reads each VM's service again before changing it, and changes it only if it still differs.
seealso:
  - module: hyperv.backup.host_facts
  - module: hyperv.backup.checkpoint_type
  - name: Enable-VMIntegrationService
    description: The cmdlet this module uses.
    link: https://learn.microsoft.com/powershell/module/hyper-v/enable-vmintegrationservice
  - name: Manage Hyper-V Integration Services
    description: What integration services are and how the host and guest sides work together.
    link: https://learn.microsoft.com/windows-server/virtualization/hyper-v/manage/manage-hyper-v-integration-services
author:
  - hyperv.backup maintainers
"""

EXAMPLES = r"""
# Ad hoc, every VM of every host of the inventory group hv, dry run with diff:
#   ansible hv -m hyperv.backup.backup_integration --check --diff

- name: The Backup integration service on every VM
  hyperv.backup.backup_integration:
  register: backup_integration

- name: Show the VMs whose guest does not answer
  ansible.builtin.debug:
    var: backup_integration.notes

- name: Only the SQL Server VMs, by pattern
  hyperv.backup.backup_integration:
    vms: ['SQL*']

- name: Every running generation 2 VM except a test VM, chosen with a JMESPath query
  hyperv.backup.backup_integration:
    query: "[?Generation==`2` && State=='Running']"
    exclude: [TEST*]
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
      sample: 8c8882aa-71d6-5df0-b087-a5c5b9b05ccb
    name:
      description: The VM name.
      type: str
      sample: APP02
    before:
      description: Whether the service was enabled before the task (null when it could not be read).
      type: dict
      sample: {Enabled: false}
    after:
      description:
        - Whether the service is enabled after the task, as the host read it back after changing it (in check
          mode, what it would be). A VM whose service did not change although the cmdlet returned without an
          error fails.
      type: dict
      sample: {Enabled: true}
    status:
      description:
        - C(ok) (already so), C(changed) (changed, or would change in check mode), C(pending) (left alone, see
          RV(vms[].msg)) or C(failed).
      type: str
      sample: changed
    guest_status:
      description:
        - The service's C(PrimaryStatusDescription) as last read, C(OK) when the guest answers (C(No Contact),
          C(Lost Communication), ... otherwise); null when it could not be read. Localized like the host's texts.
      type: str
      sample: OK
    msg:
      description: Why the VM is pending or failed.
      type: str
      returned: when status is pending or failed
counts:
  description: How many VMs were selected and how many ended in each status.
  returned: always
  type: dict
  sample: {selected: 3, changed: 1, ok: 1, pending: 1, failed: 0}
pending:
  description: The VMs left alone and why (also in their RV(vms) entries).
  returned: always
  type: list
  elements: dict
  sample: [{id: 3f2504e0-4f89-11d3-9a0c-0305e82c3301, name: WEB01,
            reason: "Saved: its integration services are changed only while the VM is Off or Running; ..."}]
notes:
  description: Running VMs whose service is enabled but whose guest does not answer, and what the guest needs.
  returned: always
  type: list
  elements: str
elsewhere:
  description: VMs named (by name or ID) in O(vms) that are clustered VM roles owned by another node, left to that node.
  returned: always
  type: list
  elements: dict
  sample: [{name: WEB01, node: HV02}]
diff:
  description:
    - Per-VM C(Enabled) before and after, keyed by VM name, for the VMs that change.
    - VMs that share a name are keyed C(<name> (<id>)), so none hides another.
  returned: in diff mode
  type: dict
  sample: {before: {APP02: {Enabled: false}}, after: {APP02: {Enabled: true}}}
msg:
  description: What went wrong, naming the VMs or the value.
  returned: on failure
  type: str
"""
