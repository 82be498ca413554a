"""Reading spec files safely (issue 9 §2, §3): encodings, limits, duplicate keys.

Every refusal is a SpecError (exit code 2) naming the file and the place, never
a traceback; every accepted encoding gives the same spec as plain UTF-8.
"""

import codecs
import json
import os

import pytest
import yaml
from typer.testing import CliRunner

from deltaw.cli import app
from deltaw.errors import SpecError
from deltaw.spec.loading import load_spec, read_spec_file
from deltaw.spec.reading import MAX_DEPTH

runner = CliRunner()

YAML = """\
name: tiny
data: {name: xor, samples: 200}
network: {layers: [2, 4, 2], activation: tanh, output_activation: sigmoid}
cost: cross-entropy
optimizer: {name: sgd, lr: 0.5}
training: {epochs: 2, batch_size: 10}
"""
SPEC = yaml.safe_load(YAML)
TOML = """\
name = "tiny"
cost = "cross-entropy"
[data]
name = "xor"
samples = 200
[network]
layers = [2, 4, 2]
activation = "tanh"
output_activation = "sigmoid"
[optimizer]
name = "sgd"
lr = 0.5
[training]
epochs = 2
batch_size = 10
"""
TEXT = {".yaml": YAML, ".toml": TOML, ".json": json.dumps(SPEC, indent=1)}
COMMENT = {".yaml": "# {}\n", ".toml": "# {}\n", ".json": None}


def refused(path) -> str:
    with pytest.raises(SpecError) as info:
        read_spec_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}:"), message
    return message


# -- encodings ---------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".yaml", ".toml", ".json"])
def test_a_latin1_byte_is_refused_naming_offset_line_column_and_what_is_accepted(tmp_path, suffix):
    text = TEXT[suffix]
    if suffix == ".json":  # JSON has no comments: put it in a string
        raw = text.replace('"tiny"', '"caf\xe9"').encode("latin-1")
    else:
        raw = text.replace("name", "# caf\xe9\nname", 1).encode("latin-1")
    (path := tmp_path / f"spec{suffix}").write_bytes(raw)
    offset = raw.index(b"\xe9")
    line = raw[:offset].count(b"\n") + 1
    message = refused(path)
    assert f"byte 0xe9 at offset {offset} (line {line}," in message
    assert "'é'" in message and "Latin-1" in message  # what it probably is
    assert "UTF-8" in message and "byte-order mark" in message  # what is accepted


@pytest.mark.parametrize("suffix", [".yaml", ".toml", ".json"])
@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-be", "utf-32"])
def test_unicode_with_a_byte_order_mark_reads_as_utf8_does(tmp_path, suffix, encoding):
    text = TEXT[suffix]
    raw = text.encode(encoding)
    if encoding == "utf-16-be":
        raw = codecs.BOM_UTF16_BE + raw
    (path := tmp_path / f"spec{suffix}").write_bytes(raw)
    (plain := tmp_path / f"plain{suffix}").write_text(text, encoding="utf-8")
    assert read_spec_file(path) == read_spec_file(plain)


@pytest.mark.parametrize("suffix", [".yaml", ".toml", ".json"])
def test_utf16_without_a_byte_order_mark_is_refused_and_recognised(tmp_path, suffix):
    (path := tmp_path / f"spec{suffix}").write_bytes(TEXT[suffix].encode("utf-16-le"))
    message = refused(path)
    assert "NUL byte (0x00) at offset 1 (line 1, column 2)" in message
    assert "UTF-16 or UTF-32 without a byte-order mark" in message


@pytest.mark.parametrize("suffix", [".yaml", ".toml", ".json"])
def test_random_bytes_are_refused_with_exit_code_2_and_no_traceback(tmp_path, suffix):
    path = tmp_path / f"spec{suffix}"
    for seed in range(20):
        path.write_bytes(bytes((seed * 7919 + i * 104729) % 256 for i in range(400)))
        result = runner.invoke(app, ["validate", str(path)])
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output and str(path) in result.output


def test_a_utf16_spec_runs_and_its_run_folder_resumes(tmp_path):
    (path := tmp_path / "spec.yaml").write_bytes(YAML.encode("utf-16"))
    out = tmp_path / "runs"
    result = runner.invoke(app, ["run", str(path), "--out", str(out), "-q", "--no-plots"])
    assert result.exit_code == 0, result.output
    (folder,) = out.iterdir()
    assert (folder / "spec.yaml").read_bytes() == path.read_bytes()  # copied as it was written
    more = ["run", "--resume", str(folder), "--set", "training.epochs=3", "-q", "--no-plots"]
    assert runner.invoke(app, more).exit_code == 0


def test_a_file_larger_than_any_spec_is_refused_without_reading_it_all(tmp_path):
    path = tmp_path / "spec.yaml"
    with open(path, "wb") as f:
        f.truncate(64 * 2**20)
    assert "larger than 4 MiB" in refused(path)


# -- limits ------------------------------------------------------------------------------------


def test_a_billion_laughs_alias_bomb_is_refused_before_it_is_expanded(tmp_path):
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    (path := tmp_path / "spec.yaml").write_text("\n".join(lines) + "\n")
    message = refused(path)
    assert "aliases" in message and "100,000 values" in message and "line 6" in message


def test_aliases_that_expand_to_little_are_fine(tmp_path):
    text = YAML + "regularizers: [&l2 {name: l2, lmbda: 1.0}]\ncallbacks: []\nx: [*l2, *l2]\n"
    (path := tmp_path / "spec.yaml").write_text(text)
    assert read_spec_file(path)["x"] == [{"name": "l2", "lmbda": 1.0}] * 2


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path):
    (path := tmp_path / "spec.yaml").write_text(YAML + "loop: &loop [1, *loop]\n")
    assert "refers to the node that contains it" in refused(path)


@pytest.mark.parametrize(
    "suffix, text",
    [
        (".yaml", "a: " + "[" * 100_000 + "]" * 100_000),
        (".yaml", "a:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 300)) + " " * 300 + "1"),
        (".json", '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"),
        (".json", '{"a": ' + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "}"),
        (".toml", "a = " + "[" * 100_000 + "]" * 100_000),
        (".toml", "a." * 500 + "b = 1"),
        (".toml", "a = " + "{b = " * 300 + "1" + "}" * 300),
    ],
    ids=["yaml-flow", "yaml-block", "json", "json-just-over", "toml", "toml-dotted", "toml-inline"],
)
def test_deep_nesting_is_refused_in_every_format(tmp_path, suffix, text):
    (path := tmp_path / f"spec{suffix}").write_text(text)
    assert f"nested more than {MAX_DEPTH} levels deep" in refused(path)


def test_a_deep_yaml_alias_chain_is_refused(tmp_path):
    lines = ["a0: &a0 [1]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, 150)]
    (path := tmp_path / "spec.yaml").write_text("\n".join(lines) + "\n")
    assert "nested more than" in refused(path)


def test_values_the_parsers_reject_late_are_located(tmp_path):
    (path := tmp_path / "spec.yaml").write_text("name: tiny\nwhen: 2024-13-45\n")
    message = refused(path)
    assert "line 2, column 7: month must be in 1..12" in message and "quotes" in message
    (path := tmp_path / "spec.json").write_text('{"n": ' + "9" * 5000 + "}")
    assert "more than 4300 digits" in refused(path)


# -- duplicate keys ------------------------------------------------------------------------------


def test_a_yaml_key_given_twice_is_refused_naming_both_lines(tmp_path):
    (path := tmp_path / "spec.yaml").write_text(YAML + "optimizer: {name: adam}\n")
    message = refused(path)
    assert "'optimizer' on line 5 and again on line 7" in message
    assert "silently replace" in message


def test_yaml_duplicates_are_found_in_nested_mappings_and_all_listed(tmp_path):
    text = YAML.replace("lr: 0.5}", "lr: 0.5, lr: 5}") + "name: again\n"
    (path := tmp_path / "spec.yaml").write_text(text)
    message = refused(path)
    assert "'lr' on line 5, at columns 24 and 33" in message
    assert "'name' on line 1 and again on line 7" in message


def test_a_yaml_merge_key_may_be_overridden(tmp_path):
    text = YAML + "base: &b {x: 1, y: 2}\nother: {<<: *b, x: 3}\n"
    (path := tmp_path / "spec.yaml").write_text(text)
    assert read_spec_file(path)["other"] == {"x": 3, "y": 2}


def test_a_json_key_given_twice_is_refused_naming_both_lines(tmp_path):
    text = json.dumps(SPEC, indent=1).replace('"lr": 0.5', '"lr": 0.5,\n  "lr": 50')
    (path := tmp_path / "spec.json").write_text(text)
    lines = text.splitlines()
    first = next(i for i, t in enumerate(lines, 1) if '"lr": 0.5' in t)
    assert f"'lr' on line {first} and again on line {first + 1}" in refused(path)


def test_json_duplicates_in_nested_objects_each_reported_once(tmp_path):
    (path := tmp_path / "spec.json").write_text('{"a": {"b": 1, "b": 2},\n "a": 3}')
    message = refused(path)
    assert message.count("'b'") == 1 and "'b' on line 1, at columns 8 and 16" in message
    assert "'a' on line 1 and again on line 2" in message


@pytest.mark.parametrize(
    "text, key, lines",
    [
        (TOML + "[optimizer]\nmomentum = 0.9\n", "optimizer", (10, 16)),
        (TOML.replace("lr = 0.5\n", "lr = 0.5\nlr = 5\n"), "optimizer.lr", (12, 13)),
        ('name = "a"\nname = "b"\n', "name", (1, 2)),
    ],
    ids=["table", "key-in-table", "top-level-key"],
)
def test_a_toml_key_or_table_given_twice_names_both_lines(tmp_path, text, key, lines):
    (path := tmp_path / "spec.toml").write_text(text)
    assert f"{key!r} is given on line {lines[0]} and again on line {lines[1]}" in refused(path)


def test_a_set_value_is_read_with_the_same_limits(tmp_path):
    (path := tmp_path / "spec.yaml").write_text(YAML)
    deep = "[" * 200 + "]" * 200
    with pytest.raises(SpecError) as info:
        load_spec(path, ["optimizer={name: sgd, lr: 1, lr: 2}", f"name={deep}"])
    message = str(info.value)
    assert "2 problems" in message and "'lr' on line 1" in message and "nested more than" in message


def test_a_spec_that_is_a_folder_or_unreadable_is_a_spec_error(tmp_path):
    (folder := tmp_path / "spec.yaml").mkdir()
    assert "is a folder" in refused(folder)
    if os.geteuid() != 0:  # root reads anything
        (path := tmp_path / "locked.yaml").write_text(YAML)
        path.chmod(0)
        assert "cannot read the spec file" in refused(path)
