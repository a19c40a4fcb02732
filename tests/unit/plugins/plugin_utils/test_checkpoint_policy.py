import pytest

from ansible_collections.hyperv.backup.plugins.plugin_utils._checkpoint_policy import (
    CheckpointPolicyError,
    canonical_type,
    compliant_types,
    default_compliant_types,
    parse_version,
    remediation_args,
    type_list,
    version_refusal,
)


@pytest.mark.parametrize("target, expected", [
    ("Production", ["Production", "ProductionOnly"]),
    ("productiononly", ["ProductionOnly"]),
    ("Standard", ["Standard"]),
    ("DISABLED", ["Disabled"]),
])
def test_the_default_accepts_the_target_and_stricter_production_types(target, expected):
    assert default_compliant_types(target) == expected
    assert compliant_types(target) == expected


def test_given_types_are_canonical_and_each_once():
    assert compliant_types("Production", ["production", "PRODUCTION", "Disabled"]) == ["Production", "Disabled"]


@pytest.mark.parametrize("value, message", [
    ("Snapshot", "unknown checkpoint type 'Snapshot'"),
    (3, "3 is an integer, not a checkpoint type"),
    (None, "null, not a checkpoint type"),
])
def test_bad_types_are_named_with_their_type_in_users_words(value, message):
    with pytest.raises(CheckpointPolicyError, match=message):
        canonical_type(value)


@pytest.mark.parametrize("value, message", [
    ("Production", "'Production' is a string; give a list"),
    ({"Production": 1}, "is a mapping; give a list"),
    ([], "an empty list"),
    (["Production", 1], "1 is an integer"),
])
def test_type_lists_are_lists_of_types(value, message):
    with pytest.raises(CheckpointPolicyError, match=message):
        type_list(value, "checkpoint_types")


def test_the_target_must_be_compliant_or_every_run_would_change_it_again():
    with pytest.raises(CheckpointPolicyError, match="does not include checkpoint_type Standard"):
        compliant_types("Standard", ["Production"])


@pytest.mark.parametrize("types, args", [
    (["Production", "ProductionOnly"], "checkpoint_type=Production"),
    (["ProductionOnly", "Production"], "checkpoint_type=ProductionOnly compliant_types=ProductionOnly,Production"),
    (["ProductionOnly"], "checkpoint_type=ProductionOnly"),
    (["Production"], "checkpoint_type=Production compliant_types=Production"),
    (["Standard", "Production"], "checkpoint_type=Standard compliant_types=Standard,Production"),
])
def test_remediation_args_reproduce_the_policy(types, args):
    assert remediation_args(types) == args


@pytest.mark.parametrize("text, parsed", [("9.0", (9, 0)), ("6.2", (6, 2)), ("10.0", (10, 0)), ("254.0", (254, 0)),
                                          ("5", None), ("", None), (None, None), ("x.y", None)])
def test_parse_version(text, parsed):
    assert parse_version(text) == parsed


def test_version_refusal_only_for_production_types_below_6_2():
    assert "configuration version 5.0" in version_refusal("Production", "5.0")
    assert "Update-VMVersion" in version_refusal("ProductionOnly", "6.0")
    assert version_refusal("Production", "6.2") is None
    assert version_refusal("Standard", "5.0") is None
    assert version_refusal("Production", None) is None
