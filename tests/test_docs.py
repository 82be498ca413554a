"""Documentation that cannot drift: built-ins, spec keys, the public API."""

import importlib.util
from pathlib import Path

from pydantic import BaseModel

import deltaw
from deltaw.spec.models import PluginRef, Spec

ROOT = Path(__file__).resolve().parents[1]


def test_builtin_plugin_docs_are_generated_from_the_current_builtins():
    spec = importlib.util.spec_from_file_location("gen", ROOT / "scripts" / "gen_builtin_docs.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    current = (ROOT / "docs" / "plugins-builtin.md").read_text(encoding="utf-8")
    assert current == gen.render(), (
        "docs/plugins-builtin.md is stale: run python scripts/gen_builtin_docs.py"
    )


def _keys(model: type[BaseModel], prefix: str = ""):
    for name, field in model.model_fields.items():
        key = prefix + name
        yield key
        ann = field.annotation
        for sub in (ann, *getattr(ann, "__args__", ())):
            if isinstance(sub, type) and issubclass(sub, BaseModel) and sub is not PluginRef:
                yield from _keys(sub, key + ".")


def test_every_spec_key_is_documented_in_docs_specs():
    text = (ROOT / "docs" / "specs.md").read_text(encoding="utf-8")
    missing = [k for k in _keys(Spec) if f"| `{k}` |" not in text]
    assert not missing, f"undocumented spec keys in docs/specs.md: {missing}"


def test_public_all_matches_the_exports():
    assert sorted(deltaw.__all__) == sorted(set(deltaw.__all__))
    for name in deltaw.__all__:
        assert getattr(deltaw, name) is not None, name


def test_committed_schema_matches_the_builtins(tmp_path):
    """deltaw.schema.json (what the example specs point editors at) is the built-ins' current
    schema."""
    import json

    from deltaw.registry import get_registry
    from deltaw.spec.schema import spec_schema

    committed = json.loads((ROOT / "deltaw.schema.json").read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(spec_schema(get_registry()))), (
        "deltaw.schema.json is stale: run DELTAW_LOAD_PLUGINS= deltaw schema -o deltaw.schema.json"
    )
