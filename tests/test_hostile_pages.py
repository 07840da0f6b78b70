"""Study pages and contact sheets with hostile class names: HTML, ``<!--``, ``</script>``, quotes, ``../``,
control characters. The page must show every picture and every choice, in Chromium and as parsed HTML."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
import torch

from chromium import Chromium, find_chromium
from dreamengine.cli import cli
from dreamengine.run.config import RunConfig
from dreamengine.run.pages import script_json
from dreamengine.run.prepare import apply_preset
from dreamengine.study.gallery import write_gallery
from dreamengine.study.plan import class_folders, find_checkpoints, plan_study
from dreamengine.study.runner import run_study
from dreamengine.study.sheets import write_sheets

pytestmark = pytest.mark.usefixtures("one_thread", "builtins_only_cli")

HOSTILE = ["<!--<script>", '</script><b>"it\'s"</b>', "../../etc/passwd &amp;", "[/]bell\x07tab\t\u2028line"]


@pytest.fixture(scope="module")
def hostile_checkpoints(checkpoints, tmp_path_factory):
    """The tiny training run's checkpoints, their classes renamed to hostile names."""
    folder = tmp_path_factory.mktemp("hostile")
    for path in sorted(checkpoints.glob("*.pt")):
        payload = torch.load(path, weights_only=False)
        payload["class_names"] = HOSTILE[: len(payload["class_names"])]
        torch.save(payload, folder / path.name)
    return folder


class _Scripts(HTMLParser):
    """The text of each ``<script>`` block, as an HTML parser splits the page."""

    def __init__(self):
        super().__init__()
        self.blocks, self._inside = [], False

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self._inside = True
            self.blocks.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._inside = False

    def handle_data(self, data):
        if self._inside:
            self.blocks[-1] += data


def _study(host, checkpoints, output):
    base = apply_preset(host, RunConfig(), "report").updated({"size": 16, "device": "cpu", "strategy": []}, "test")
    plan = plan_study(base, find_checkpoints([str(checkpoints)]), [1], HOSTILE, ["logit"], ["0.5"], [0], output)
    run_study(host, plan)
    write_sheets(plan)
    return plan


def test_script_json_escapes_what_ends_or_hides_a_script_block():
    text = script_json({"name": "<!--</script>&\u2028\u2029"})
    assert not any(c in text for c in "<>&\u2028\u2029")
    assert json.loads(text) == {"name": "<!--</script>&\u2028\u2029"}


def test_hostile_class_names_stay_inside_the_pages_data(host, hostile_checkpoints, tmp_path):
    plan = _study(host, hostile_checkpoints, tmp_path / "study")
    page = write_gallery(plan, "{{data}} </title><!--")
    parser = _Scripts()
    parser.feed(page.read_text())
    assert len(parser.blocks) == 2
    data = json.loads(parser.blocks[0])
    assert data["axes"]["class"] == HOSTILE
    assert len(data["cells"]) == 2 * len(HOSTILE)
    assert "<title>{{data}} &lt;/title&gt;&lt;!--</title>" in page.read_text()
    written = {p.resolve() for p in (tmp_path / "study").rglob("*") if p.is_file()}
    assert all((tmp_path / "study").resolve() in p.parents for p in written)
    assert not list(tmp_path.glob("etc*")) and len(list((tmp_path / "study" / "sheets").iterdir())) == len(HOSTILE)


CHOICES = """
(async () => {
  const select = document.getElementById("pick-class");
  const seen = [];
  for (const option of [...select.options]) {
    select.value = option.value;
    select.dispatchEvent(new Event("change"));
    const images = [...document.querySelectorAll("#grid img")];
    await Promise.all(images.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
    seen.push({value: option.value, ok: images.filter(i => i.naturalWidth > 0).length});
  }
  return seen;
})()
"""


def test_hostile_class_names_show_every_picture_and_choice_in_chromium(host, hostile_checkpoints, tmp_path):
    path = find_chromium()
    if not path:
        pytest.skip("the page test needs Chromium (apt-get install chromium)")
    plan = _study(host, hostile_checkpoints, tmp_path / "study")
    browser = Chromium(path, str(tmp_path / "profile"))
    try:
        browser.open(write_gallery(plan, "<!-- title").resolve().as_uri())
        seen = browser.evaluate(CHOICES)
        assert [choice["value"] for choice in seen] == HOSTILE
        assert all(choice["ok"] == 2 for choice in seen), seen
        assert browser.evaluate("document.title") == "<!-- title"
        assert browser.problems() == []
    finally:
        browser.close()


def test_classes_whose_names_slug_alike_keep_their_own_cells_and_sheets():
    assert class_folders(["red", "tabby, tabby cat"], [0, 1]) == {"red": "red", "tabby, tabby cat": "tabby-tabby-cat"}
    assert class_folders(["a b", "a-b", "c"], [3, 5, 7]) == {"a b": "a-b-3", "a-b": "a-b-5", "c": "c-7"}
    assert class_folders(["<!--", "[/]"], [0, 1]) == {"<!--": "class-0", "[/]": "class-1"}


def test_hostile_class_names_print_as_they_are(runner, hostile_checkpoints):
    result = runner.invoke(cli, ["classes", "--checkpoint", str(hostile_checkpoints / "epoch-001.pt")])
    assert result.exit_code == 0, result.output
    assert "<!--<script>" in result.output and "[/]bell" in result.output


def test_run_and_study_say_which_size_they_dream_a_checkpoint_at(runner, checkpoints, tmp_path):
    checkpoint = str(sorted(checkpoints.glob("*.pt"))[-1])
    tiny = ["--steps", "1", "--device", "cpu"]
    ran = runner.invoke(
        cli, ["run", "--checkpoint", checkpoint, *tiny, "-c", "0", "--strategy", "none", "-o", str(tmp_path)]
    )
    assert ran.exit_code == 0, ran.output
    assert "16x16 pixels (the checkpoint's own size)" in ran.output
    study = ["study", checkpoint, *tiny, "-c", "0", "-o", str(tmp_path / "s")]
    preset = runner.invoke(cli, study, catch_exceptions=False)
    assert "dreamed at 128x128 pixels (preset 'report''s size; --size changes it)" in " ".join(preset.output.split())
    sized = runner.invoke(cli, [*study, "--size", "16"], catch_exceptions=False)
    assert "dreamed at 16x16 pixels (set by --size)" in " ".join(sized.output.split())
