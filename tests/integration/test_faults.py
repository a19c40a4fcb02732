"""A host that fails in the middle of a task: the task fails clearly, and a rerun finishes the work."""
import pytest

from tests.integration.modelkit import adhoc, fails_leaving_model_untouched

pytestmark = pytest.mark.integration


def hv01_types(lab):
    return {vm["name"]: vm["checkpoint_type"] for vm in lab.read_model()["vms"] if vm["node"] == "HV01"}


def test_a_service_that_stops_before_the_apply_changes_nothing(lab_of):
    lab = lab_of("demo")
    lab.set_faults(fail_nth=2)  # the read is run 1, the apply run 2
    fails_leaving_model_untouched(lab, "checkpoint_type", "checkpoint_type=Production", "service on HV01 stopped")


def test_a_reply_lost_after_the_apply_is_made_good_by_a_rerun(lab_of):
    lab = lab_of("demo")
    drifting = {name for name, kind in hv01_types(lab).items() if kind not in ("Production", "ProductionOnly")}
    assert drifting
    lab.set_faults(drop_nth=2)  # the apply runs, its reply never arrives
    rc, results = adhoc(lab, "checkpoint_type", "checkpoint_type=Production", hosts="HV01")
    assert rc != 0 and results["HV01"]["failed"] is True
    lab.set_faults(drop_nth=0)
    rc, results = adhoc(lab, "checkpoint_type", "checkpoint_type=Production", hosts="HV01")
    assert rc == 0, results
    assert results["HV01"]["changed"] is False  # the lost apply did happen
    assert set(hv01_types(lab).values()) <= {"Production", "ProductionOnly"}  # ProductionOnly is left alone
