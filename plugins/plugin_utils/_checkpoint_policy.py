"""Which checkpoint types count as compliant, and which one a non-compliant VM gets.

One notion shared by the ``hyperv.backup.checkpoint_type`` planner, the ``checkpoint_policy`` role (through
the module's options) and the ``readiness`` policy, so that what the readiness report accepts is exactly
what the module leaves alone.

- The *target* is the type a non-compliant VM is given (the module's ``checkpoint_type``).
- The *compliant types* are left alone (the module's ``compliant_types``, the readiness policy's
  ``checkpoint_types``). By default: the target and any stricter type of the production family, so
  ``Production`` accepts ``Production`` and ``ProductionOnly`` (both give application-consistent backups;
  ``ProductionOnly`` only refuses to fall back to a standard checkpoint), and a ``Production`` policy never
  downgrades a ``ProductionOnly`` VM. Any other target accepts only itself.
- The target must be one of the compliant types, or a VM given it would be changed again on the next run.

Production checkpoints need VM configuration version 6.2 or later ("Choose between standard or production
checkpoints in Hyper-V" and ``Update-VMVersion``, https://learn.microsoft.com/powershell/module/hyper-v/update-vmversion):
an older VM must be upgraded first, which needs the VM off and cannot be undone.
"""
from ansible_collections.hyperv.backup.plugins.plugin_utils._values import describe_type, shown

CHECKPOINT_TYPES = ("Disabled", "Production", "ProductionOnly", "Standard")
# The types that give application-consistent backups, from the most lenient to the strictest.
PRODUCTION_FAMILY = ("Production", "ProductionOnly")
DEFAULT_TARGET = "Production"
PRODUCTION_MIN_VERSION = (6, 2)


class CheckpointPolicyError(ValueError):
    """A checkpoint type or list of types that is not valid; the message names the option and the value."""


def canonical_type(value, option="checkpoint_type"):
    """The checkpoint type as Hyper-V spells it, from any case; raises :class:`CheckpointPolicyError`."""
    if isinstance(value, str):
        for known in CHECKPOINT_TYPES:
            if value.lower() == known.lower():
                return known
        raise CheckpointPolicyError(
            f"{option}: unknown checkpoint type {shown(value)}; choose from {', '.join(CHECKPOINT_TYPES)}"
        )
    raise CheckpointPolicyError(
        f"{option}: {shown(value)} is {describe_type(value)}, not a checkpoint type "
        f"({', '.join(CHECKPOINT_TYPES)})"
    )


def default_compliant_types(target):
    """``target`` and the stricter types of its family: Production -> [Production, ProductionOnly]."""
    target = canonical_type(target)
    if target in PRODUCTION_FAMILY:
        return list(PRODUCTION_FAMILY[PRODUCTION_FAMILY.index(target):])
    return [target]


def type_list(value, option):
    """A list of checkpoint types in Hyper-V's spelling, each once, in the order given."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise CheckpointPolicyError(
            f"{option}: {shown(value)} is {describe_type(value)}; give a list of checkpoint types, "
            f"such as [{', '.join(PRODUCTION_FAMILY)}]"
        )
    if not value:
        raise CheckpointPolicyError(f"{option}: an empty list accepts no checkpoint type; give at least one")
    types = []
    for item in value:
        canonical = canonical_type(item, option)
        if canonical not in types:
            types.append(canonical)
    return types


def compliant_types(target, given=None, option="compliant_types"):
    """The compliant types for ``target``: ``given`` (validated) or the default; the target must be one."""
    target = canonical_type(target)
    if given is None:
        return default_compliant_types(target)
    types = type_list(given, option)
    if target not in types:
        raise CheckpointPolicyError(
            f"{option}: [{', '.join(types)}] does not include checkpoint_type {target}: a VM given {target} "
            f"would not be compliant and would be changed again on every run; add {target} to {option}"
        )
    return types


def remediation_args(types):
    """The ``hyperv.backup.checkpoint_type`` arguments that make a VM compliant with ``types`` (the first
    type is what a non-compliant VM gets), as ``key=value`` text."""
    target = types[0]
    args = f"checkpoint_type={target}"
    if sorted(types) != sorted(default_compliant_types(target)):
        args += f" compliant_types={','.join(types)}"
    return args


def parse_version(text):
    """``'9.0'`` -> ``(9, 0)``; None when the VM's configuration version is unknown or not numeric."""
    parts = str(text or "").strip().split(".")
    if len(parts) < 2 or not all(part.isdigit() for part in parts[:2]):
        return None
    return int(parts[0]), int(parts[1])


def version_too_old(target, version):
    """Whether a VM of configuration ``version`` cannot get ``target`` (False when the version is unknown:
    the host then reports what ``Set-VM`` says)."""
    parsed = parse_version(version)
    return target in PRODUCTION_FAMILY and parsed is not None and parsed < PRODUCTION_MIN_VERSION


MIN_VERSION_TEXT = ".".join(str(n) for n in PRODUCTION_MIN_VERSION)


def version_refusal(target, version):
    """Why a VM of configuration ``version`` cannot get ``target`` and what fixes it, or None when it can."""
    if not version_too_old(target, version):
        return None
    return (f"configuration version {version}: {target} checkpoints need version {MIN_VERSION_TEXT} or later; "
            f"upgrade the VM with Update-VMVersion (the VM must be off, and it cannot be undone: the VM then "
            f"runs only on hosts that support the new version), then run this again")
