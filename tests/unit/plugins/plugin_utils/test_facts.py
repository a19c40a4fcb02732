import pytest

from ansible_collections.hyperv.backup.plugins.plugin_utils._facts import (
    SUBSETS,
    GatherSubsetError,
    normalize_gather_subset,
)


@pytest.mark.parametrize(
    "given, expected",
    [
        (None, list(SUBSETS)),
        (["all"], list(SUBSETS)),
        (["min"], []),
        (["vms"], ["vms"]),
        (["vms", "cluster"], ["cluster", "vms"]),
        (["!vss_writers"], ["cluster", "vms", "checkpoints", "vss_access_control", "vhd_set_acls", "events"]),
        (["all", "!checkpoints", "!vss_writers"], ["cluster", "vms", "vss_access_control", "vhd_set_acls", "events"]),
        (["all", "!checkpoints", "!vss_writers", "!vhd_set_acls"], ["cluster", "vms", "vss_access_control", "events"]),
        (["min", "events"], ["events"]),
        (["vhd_set_acls"], ["vms", "vhd_set_acls"]),
        (["min", "cluster", "vhd_set_acls"], ["cluster", "vms", "vhd_set_acls"]),
        (["checkpoints"], ["vms", "checkpoints"]),
        (["min", "cluster"], ["cluster"]),
        ("vms,cluster", ["cluster", "vms"]),
        (["!all", "cluster"], []),
    ],
)
def test_normalize(given, expected):
    assert normalize_gather_subset(given) == expected


def test_unknown_value_is_named():
    with pytest.raises(GatherSubsetError, match=r"unknown value 'vmz'"):
        normalize_gather_subset(["vms", "vmz"])


def test_checkpoints_without_vms_is_an_error():
    with pytest.raises(GatherSubsetError, match=r"'checkpoints' needs 'vms'"):
        normalize_gather_subset(["checkpoints", "!vms"])


def test_non_string_is_named():
    with pytest.raises(GatherSubsetError, match=r"3 \(an integer\)"):
        normalize_gather_subset(["vms", 3])


def test_vhd_set_acls_without_vms_is_an_error():
    with pytest.raises(GatherSubsetError, match=r"'vhd_set_acls' needs 'vms', which is excluded"):
        normalize_gather_subset(["vhd_set_acls", "!vms"])
