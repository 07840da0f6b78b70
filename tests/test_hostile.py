"""Hostile input, generated: component specs, objective expressions, config files, checkpoints and class names,
fed through the commands and the page writers.

Whatever comes in, a command exits with status 0 (only for valid input), 1 or 2, prints no traceback and at most
one line naming the problem, writes nothing outside its output folder and changes no file of the user's.
"""

from __future__ import annotations

import json
import os
import string
import tempfile
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from dreamengine.cli import cli
from dreamengine.plugins import load_plugins
from dreamengine.run.config import RunConfig
from dreamengine.run.prepare import apply_preset
from dreamengine.study.gallery import write_gallery
from dreamengine.study.plan import find_checkpoints, plan_study
from dreamengine.study.runner import run_study
from dreamengine.study.sheets import write_sheets

pytestmark = pytest.mark.usefixtures("one_thread", "builtins_only_cli")

#: A few seconds per property on a shared 2-core machine.
FEW = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

TINY = ["--model", "resnet10t", "--size", "16", "--steps", "1", "--strategy", "none", "--device", "cpu"]
_REGISTRY = load_plugins(entry_points=False, blocked=(), trace=False).registry.entries
NAMES = sorted({name for kind in _REGISTRY.values() for name in kind} | {"none", "nosuch", ""})

#: Names meant to break pages, paths and terminals.
HOSTILE_TEXT = st.one_of(
    st.sampled_from(
        [
            "<!--",
            "</script>",
            "<script>alert(1)</script>",
            '"',
            "'",
            "../",
            "../../etc/passwd",
            "&amp;",
            "[bold]",
            "[/]",
            "\\",
            "\x00",
            "\x1b[31m",
            "\u2028",
            "{{data}}",
            "%s",
            ".",
        ]
    ),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12),
)
VALUES = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "inf", "-inf", "1e309", "photo.png", "../outside.png", "/dev/null", ".", "true", ""]),
    HOSTILE_TEXT,
)
KEYS = st.sampled_from(
    [
        "sigma",
        "path",
        "value",
        "count",
        "scale",
        "size",
        "frames",
        "std",
        "mean",
        "angle",
        "blur",
        "per_octave",
        "start",
        "x",
        "",
    ]
)
SPEC = st.one_of(
    st.builds(
        lambda name, options: name + "".join(f":{key}={value}" for key, value in options),
        st.sampled_from(NAMES),
        st.lists(st.tuples(KEYS, VALUES), max_size=3),
    ),
    st.text(alphabet=string.ascii_lowercase + ":=+,.-_0123456789 /", max_size=25),
    HOSTILE_TEXT,
)


@contextmanager
def _sandbox():
    """A working folder holding a user's photo and notes; yields it, then checks that nothing outside ``out``
    was written and that the user's files are as they were."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        Image.new("RGB", (24, 20), "teal").save(root / "photo.png")
        (root / "notes.txt").write_text("mine")
        before = {path: path.read_bytes() for path in root.iterdir()}
        cwd = os.getcwd()
        os.chdir(root)
        try:
            yield root
        finally:
            os.chdir(cwd)
        after = {path for path in root.rglob("*") if not path.is_relative_to(root / "out")} - {root / "out"}
        assert after == set(before), f"written outside the output folder: {sorted(after - set(before))}"
        assert all(path.read_bytes() == data for path, data in before.items()), "a user file was changed"


def _check(result, valid: bool | None = None) -> None:
    """Status 0, 1 or 2 (0 only for valid input), no traceback, one line naming the problem."""
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.output)
    assert "Traceback" not in result.output
    if valid is not None:
        assert (result.exit_code == 0) == valid, result.output
    if result.exit_code != 0:
        assert sum(line.startswith("Error:") for line in result.stderr.splitlines()) == 1, result.stderr


def _run(*args: str):
    """``dreamengine run`` of a tiny dream into ``out/``; a run that succeeds has written its dream there."""
    result = CliRunner().invoke(cli, ["run", *TINY, "-o", "out/", *args], catch_exceptions=False)
    assert result.exit_code != 0 or list(Path("out").glob("*.png")), result.output
    return result


@FEW
@given(option=st.sampled_from(["--reg", "--init", "--strategy", "--param"]), spec=SPEC)
def test_any_component_spec_gets_a_dream_or_one_line(option, spec):
    with _sandbox():
        _check(_run(option, spec))


@FEW
@given(
    option=st.sampled_from(["--reg", "--init", "--strategy", "--param"]),
    name=st.sampled_from(NAMES),
    key=KEYS,
    value=VALUES,
)
def test_any_setting_of_a_component_gets_a_dream_or_one_line(option, name, key, value):
    with _sandbox():
        _check(_run(option, name, "-s", f"{name}.{key}={value}"))


EXPRESSION = st.recursive(
    st.one_of(st.sampled_from(NAMES), VALUES, st.sampled_from(["layer:layer=layer9", "neuron:channel=-1"])),
    lambda inner: st.one_of(
        st.builds(lambda a, op, b: f"{a} {op} {b}", inner, st.sampled_from(list("+-*/;") + ["**", ""]), inner),
        inner.map(lambda a: f"({a}"),
        inner.map(lambda a: f"-{a})"),
    ),
    max_leaves=5,
)


@FEW
@given(expression=EXPRESSION)
def test_any_objective_expression_gets_a_dream_or_one_line(expression):
    with _sandbox():
        _check(_run("--objective", expression))


FIELDS = [
    "model",
    "checkpoint",
    "classes",
    "objective",
    "reg",
    "init",
    "param",
    "strategy",
    "options",
    "steps",
    "lr",
    "optimizer",
    "size",
    "seed",
    "device",
    "precision",
    "output",
    "save_every",
    "nosuch",
]
TOML_VALUES = st.one_of(
    st.integers(-(2**64), 2**64).map(str),
    st.floats().map(lambda x: {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(repr(x), repr(x))),
    st.booleans().map(str).map(str.lower),
    HOSTILE_TEXT.map(json.dumps),
    st.lists(HOSTILE_TEXT.map(json.dumps), max_size=3).map(lambda items: f"[{', '.join(items)}]"),
    st.sampled_from(['{blur = {sigma = "x"}}', "{blur = 1}", "[[1]]", '"../outside.png"', '"/dev/null"']),
)
TOML = st.lists(st.tuples(st.sampled_from(FIELDS), TOML_VALUES), max_size=4).map(
    lambda pairs: "".join(f"{key} = {value}\n" for key, value in pairs)
)


@FEW
@given(text=st.one_of(TOML, st.text(max_size=60)))
def test_any_config_file_text_gets_a_dream_or_one_line(text):
    with _sandbox() as root:
        (root / "out").mkdir()
        (root / "out" / "run.toml").write_text(text, encoding="utf-8", errors="surrogatepass")
        _check(_run("--config", "out/run.toml"))


@pytest.mark.parametrize("value", ["1", "[1]", '{blur = {sigma = "x"}}'])
def test_a_preset_of_another_type_in_a_config_file_is_one_line(value):
    with _sandbox() as root:
        (root / "out").mkdir()
        (root / "out" / "run.toml").write_text(f"preset = {value}\n")
        _check(_run("--config", "out/run.toml"), valid=False)


@FEW
@given(data=st.binary(max_size=80))
@example(data=b"\x80")
def test_any_config_file_bytes_get_a_dream_or_one_line(data):
    with _sandbox() as root:
        (root / "out").mkdir()
        (root / "out" / "run.toml").write_bytes(data)
        _check(_run("--config", "out/run.toml"))


PLAIN = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(),
    HOSTILE_TEXT,
    st.lists(st.one_of(HOSTILE_TEXT, st.integers(-5, 5)), max_size=3),
    st.builds(torch.zeros, st.integers(0, 3)),
    st.dictionaries(HOSTILE_TEXT, st.integers(), max_size=2),
)
CHECKPOINT_KEYS = [
    "format",
    "version",
    "architecture",
    "num_classes",
    "class_names",
    "input_size",
    "mean",
    "std",
    "state_dict",
    "extra",
]


@FEW
@given(
    changes=st.dictionaries(st.one_of(st.sampled_from(CHECKPOINT_KEYS), HOSTILE_TEXT), PLAIN, max_size=3),
    dropped=st.lists(st.sampled_from(CHECKPOINT_KEYS), max_size=2),
    whole=st.one_of(st.none(), PLAIN),
)
@example(changes={"mean": torch.zeros(0)}, dropped=[], whole=None)
@example(changes={"input_size": 20307}, dropped=[], whole=None)
def test_any_checkpoint_gets_a_dream_or_one_line(checkpoints, changes, dropped, whole):
    payload = torch.load(sorted(checkpoints.glob("*.pt"))[-1], weights_only=True)
    payload.update(changes)
    for key in dropped:
        payload.pop(key, None)
    with _sandbox() as root:
        (root / "out").mkdir()
        torch.save(payload if whole is None else whole, root / "out" / "net.pt")
        _check(
            CliRunner().invoke(
                cli, ["run", *TINY[2:], "--checkpoint", "out/net.pt", "-o", "out/"], catch_exceptions=False
            )
        )
        _check(CliRunner().invoke(cli, ["classes", "--checkpoint", "out/net.pt"], catch_exceptions=False))


@pytest.fixture(scope="module")
def host_for_pages():
    return load_plugins(entry_points=False, blocked=(), trace=False)


class _Scripts(HTMLParser):
    """The text of each ``<script>`` block, as a browser's parser splits the page."""

    def __init__(self):
        super().__init__()
        self.blocks, self.inside = [], False

    def handle_starttag(self, tag, attrs):
        self.inside = tag == "script"
        if self.inside:
            self.blocks.append("")

    def handle_endtag(self, tag):
        self.inside = False

    def handle_data(self, data):
        if self.inside:
            self.blocks[-1] += data


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    names=st.lists(
        HOSTILE_TEXT.filter(lambda name: name.strip() and not name.strip().isdigit()),
        min_size=4,
        max_size=4,
        unique_by=lambda name: name.strip().casefold(),
    ),
    title=HOSTILE_TEXT,
)
def test_any_class_names_keep_the_study_page_and_sheets_whole(host_for_pages, checkpoints, names, title):
    with _sandbox() as root:
        for path in sorted(checkpoints.glob("*.pt")):
            payload = torch.load(path, weights_only=True)
            payload["class_names"] = names
            (root / "out" / "nets").mkdir(parents=True, exist_ok=True)
            torch.save(payload, root / "out" / "nets" / path.name)
        base = apply_preset(host_for_pages, RunConfig(), "report").updated(
            {"size": 16, "device": "cpu", "strategy": []}, "test"
        )
        found = find_checkpoints([str(root / "out" / "nets")])
        plan = plan_study(base, found, [1], names[:2], ["logit"], ["0.5"], [0], root / "out" / "study")
        run_study(host_for_pages, plan)
        write_sheets(plan)
        parser = _Scripts()
        parser.feed(write_gallery(plan, title).read_text(encoding="utf-8"))
        assert len(parser.blocks) == 2
        assert json.loads(parser.blocks[0])["axes"]["class"] == list(dict.fromkeys(c.task.target for c in plan.cells))
        assert len({cell.path for cell in plan.cells}) == len(plan.cells), "two classes share their cells' files"
        result = CliRunner().invoke(cli, ["classes", "--checkpoint", "out/nets/epoch-001.pt"], catch_exceptions=False)
        _check(result, valid=True)
