# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the action plugin plugins/action/vss_access_control.py plans on the controller and
# plugins/modules/vss_access_control.ps1 changes the registry of the Hyper-V host.

DOCUMENTATION = r"""
module: vss_access_control
short_description: Allow a backup product's accounts under the VSS VssAccessControl registry key
version_added: 0.1.0
author:
  - hyperv.backup maintainers
description:
  - Manages the REG_DWORD values under C(HKLM\SYSTEM\CurrentControlSet\Services\VSS\VssAccessControl), one per
    account, named after it (C(DOMAIN\account)). A backup product that is its own VSS requester and runs as an
    account that is neither Local System nor an administrator or backup operator gets VSS event 8194
    ("Unexpected error querying for the IVssWriterCallback interface. hr = 0x80070005, Access is denied")
    unless its account is listed there.
  - The data says what the account may do, as Microsoft's VSS security pages document it - C(0) deny,
    C(1) writer (the field fix for event 8194), C(2) requester, C(3) both.
  - The key is per host, so the task runs on every node. One round trip reads it
    (M(hyperv.backup.host_facts)); one more writes the values that change (or, with O(resolve), resolves the
    names, in check mode too), only when needed.
  - Each account has its own result; a value that cannot be written or does not read back as written fails
    that account, the others are still applied, and the task fails afterwards.
extends_documentation_fragment:
  - hyperv.backup.attributes
  - hyperv.backup.facts
options:
  accounts:
    description:
      - The accounts, each an account name or a dictionary with C(name) and C(access).
      - A name is C(DOMAIN\name) (the computer's name for a local account, C(NT AUTHORITY) for a service
        identity) or C(name@domain); spaces, apostrophes, quotes, C($) and letters of any script are valid and
        become the value name exactly as written. An empty name, one without a domain part, with leading or
        trailing spaces or with control characters fails the task before anything changes, naming it.
      - C(access) is V(deny), V(writer), V(requester), V(both) or the number C(0) to C(3); the value must then
        be exactly that. Without it the account must be allowed as a writer at least - C(1) or C(3) is left as
        it is, C(2) becomes C(3) (requester access someone granted is kept), C(0) or no value becomes C(1).
      - An existing C(0) (deny) for a listed account is changed, and the result says it was denied
        (RV(accounts[].was_denied)).
      - Names compare as Windows compares value names, without regard to case; a value that exists under
        another spelling is updated or removed under its own name.
    type: list
    elements: raw
    required: true
  state:
    description:
      - V(present) sets the values of the listed accounts; V(absent) removes them, whatever their data (C(access)
        is then an error).
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description:
      - With O(state=present), also remove the values of the accounts that are not listed. Refused with an empty
        O(accounts), which would empty the key.
    type: bool
    default: false
  resolve:
    description:
      - Check on each node that every listed account resolves to a SID there
        (C(NTAccount.Translate)); an account that does not is that account's failure and its value is not
        written. The SID is returned (RV(accounts[].sid)), and two listed names that are one account are a
        warning.
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check_mode and return the changed status without modifying the target; with
      O(resolve), the names are resolved on the host, which changes nothing.
    support: full
  diff_mode:
    description: Returns the key's values (name and data) before and after.
    support: full
notes:
  - The key is created when a value must be set and it does not exist; removing from a key that does not exist
    removes nothing.
  - A value that is not a REG_DWORD from 0 to 3 (another number, or another registry type) for a listed
    account is replaced by the REG_DWORD the account needs.
  - Prefer C(DOMAIN\name), the form Microsoft documents. A user principal name (C(name@domain)) is a
    different value name for the same account; with O(resolve) the task warns when two listed names are one
    account.
  - With O(facts), the facts must hold the C(vss_access_control) subset of M(hyperv.backup.host_facts). The
    host reads each value again before writing it and writes only what still differs.
seealso:
  - module: hyperv.backup.host_facts
  - plugin: hyperv.backup.vss_access_control
    plugin_type: role
  - name: Security Considerations for Requesters
    description: Microsoft's description of the VssAccessControl key and its values.
    link: https://learn.microsoft.com/windows/win32/vss/security-considerations-for-requestors
"""

EXAMPLES = r"""
# Ad hoc, dry run with diff on every node of the inventory group hv:
#   ansible hv -m hyperv.backup.vss_access_control -a 'accounts=LAB\svc-veeam resolve=true' --check --diff

- name: The backup product's account may use the VSS writers on every node (the fix for VSS event 8194)
  hyperv.backup.vss_access_control:
    accounts:
      - LAB\svc-veeam
    resolve: true

- name: Writer and requester access for one account, exactly
  hyperv.backup.vss_access_control:
    accounts:
      - name: LAB\svc-sql
        access: both

- name: Only these two accounts, every other value removed (checked first)
  hyperv.backup.vss_access_control:
    accounts: [LAB\svc-veeam, LAB\svc-sql]
    exclusive: true
  check_mode: true
  register: vss_acl

- name: What would change
  ansible.builtin.debug:
    msg: "{{ vss_acl.accounts | selectattr('status', '==', 'changed') | map(attribute='msg') }}"

- name: The account is no longer used
  hyperv.backup.vss_access_control:
    accounts: [LAB\svc-sql]
    state: absent
"""

RETURN = r"""
changed:
  description: Whether any value changed (in check mode, would change).
  returned: always
  type: bool
node:
  description: The node whose key this is.
  returned: always
  type: str
  sample: HV01
key:
  description: The registry key.
  returned: always
  type: str
  sample: HKLM\SYSTEM\CurrentControlSet\Services\VSS\VssAccessControl
state:
  description: O(state), as applied.
  returned: always
  type: str
  sample: present
accounts:
  description: One entry per listed account, then one per value removed because of O(exclusive).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The account as listed (for a value removed by O(exclusive), the value's name).
      type: str
      sample: LAB\svc-veeam
    value_name:
      description: The registry value concerned (the existing spelling when one exists).
      type: str
      sample: LAB\svc-veeam
    listed:
      description: Whether the account is in O(accounts) (false for a value removed by O(exclusive)).
      type: bool
    access:
      description: The access the value gives afterwards (C(deny), C(writer), C(requester), C(both)), null when
        it is removed.
      type: str
      sample: writer
    before:
      description: The data before (null - no value).
      type: raw
      sample: 0
    after:
      description: The data after, as the host read it back (in check mode, what it would be; null - no value).
      type: raw
      sample: 1
    status:
      description: C(ok) (nothing to do), C(changed) (changed, or would change in check mode) or C(failed).
      type: str
      sample: changed
    was_denied:
      description: The value was C(0), deny, and is now an allow.
      type: bool
    sid:
      description: With O(resolve), the account's SID on this node.
      type: str
      returned: when resolve is true and the account resolves
      sample: S-1-5-21-2915421087-3156798434-1849367124-1105
    msg:
      description: What changed, or why the account failed.
      type: str
      returned: when status is changed or failed
      sample: was denied (0); now 1 (writer)
counts:
  description: How many accounts are C(changed), C(ok) and C(failed).
  returned: always
  type: dict
  sample: {changed: 1, ok: 1, failed: 0}
values:
  description: The whole key afterwards, value name to data, as the host read it back (in check mode, what it
    would hold).
  returned: always
  type: dict
  sample: {'LAB\svc-veeam': 1}
"""
