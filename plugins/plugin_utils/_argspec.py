"""Build an argument spec from a docs stub's DOCUMENTATION, so the docs and the checks cannot drift."""
import yaml

_KEYS = ("type", "elements", "default", "choices", "required", "aliases", "no_log")


def _option_spec(doc):
    spec = {key: doc[key] for key in _KEYS if key in doc}
    spec.setdefault("type", "str")
    if "suboptions" in doc:
        spec["options"] = {name: _option_spec(sub) for name, sub in doc["suboptions"].items()}
    return spec


def argument_spec_from_doc(documentation):
    """``DOCUMENTATION`` (YAML text) -> ``{'argument_spec': {...}}`` for ``ActionBase.validate_argument_spec``."""
    doc = yaml.safe_load(documentation)
    options = doc.get("options") or {}
    return {"argument_spec": {name: _option_spec(opt) for name, opt in options.items()}}
