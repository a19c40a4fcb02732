"""What ``hyperv.backup.host_facts`` gathers: the subsets and the user's ``gather_subset`` forms."""
from ansible_collections.hyperv.backup.plugins.plugin_utils._values import describe_type

# The order is the order in which they are reported. ``vhd_set_acls``: the ACLs of the folders that hold this
# node's VMs' VHD Sets. ``events``: the backup-related events of the last ``events_days`` days (``_events``
# says which and why).
SUBSETS = ("cluster", "vms", "checkpoints", "vss_access_control", "vss_writers", "vhd_set_acls", "events")

# Subsets that only make sense with another one. vhd_set_acls reads the ACLs of the folders that hold the
# VHD Set (.vhds) files of this node's VMs, so it needs the VMs.
REQUIRES = {"checkpoints": "vms", "vhd_set_acls": "vms"}


class GatherSubsetError(ValueError):
    """A ``gather_subset`` value that is not understood; the message names it."""


def normalize_gather_subset(values):
    """Turn the user's ``gather_subset`` into the explicit list the PowerShell module takes.

    ``all`` adds every subset, ``min`` none (the node itself is always read), a name adds it and
    ``!name`` removes it after the additions, whatever the order, as ``ansible.builtin.setup`` does.
    A list of exclusions only starts from ``all``. A subset that needs another one pulls it in unless
    that one was excluded, which is an error.
    """
    if values is None:
        values = ["all"]
    if isinstance(values, str):
        values = [v.strip() for v in values.split(",")]
    include, exclude = set(), set()
    only_exclusions = True
    for value in values:
        if not isinstance(value, str):
            raise GatherSubsetError(f"gather_subset: {value!r} ({describe_type(value)}) is not a string")
        name = value.strip()
        negate = name.startswith("!")
        if negate:
            name = name[1:]
        if name not in SUBSETS and name not in ("all", "min"):
            raise GatherSubsetError(
                f"gather_subset: unknown value '{value}'; choose from all, min, {', '.join(SUBSETS)}"
                " (prefix a subset with ! to exclude it)"
            )
        if negate:
            exclude.update(SUBSETS if name == "all" else () if name == "min" else (name,))
            continue
        only_exclusions = False
        include.update(SUBSETS if name == "all" else () if name == "min" else (name,))
    if only_exclusions:
        include.update(SUBSETS)
    for subset, needed in REQUIRES.items():
        if subset in include - exclude and needed not in include - exclude:
            if needed in exclude:
                raise GatherSubsetError(f"gather_subset: '{subset}' needs '{needed}', which is excluded")
            include.add(needed)
    return [s for s in SUBSETS if s in include and s not in exclude]
