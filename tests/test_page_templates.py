"""The pages' templates: every value is escaped in every page kind, a value a template needs and is not given fails
loudly, and the templates, styles and scripts are package files that the pages can inline or copy."""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest
from jinja2 import UndefinedError
from markupsafe import Markup

from atlas_folder import write_atlas_folder
from dreamengine.atlas.folder import SCRIPT as SCRIPT_PATH
from dreamengine.atlas.folder import STYLESHEET
from dreamengine.atlas.site import write_site
from dreamengine.run.pages import page_templates, render_page

SCRIPT = "<script>alert('x')</script>"
ESCAPED = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"

#: every page template, by its package
TEMPLATES = [
    ("dreamengine.atlas", "index.html"),
    ("dreamengine.atlas", "layer.html"),
    ("dreamengine.atlas", "unit.html"),
    ("dreamengine.atlas", "classes.html"),
    ("dreamengine.atlas", "class.html"),
    ("dreamengine.study", "gallery.html"),
]


@pytest.fixture
def scripted_site(tmp_path, host):
    """An atlas whose layer, model and a class are named ``<script>...``, written as a site."""
    folder = write_atlas_folder(tmp_path / "atlas", layer_name=SCRIPT, classes=["tench", SCRIPT, "a & b"])
    plan = json.loads((folder / "atlas.json").read_text(encoding="utf-8"))
    plan["model"] = SCRIPT
    (folder / "atlas.json").write_text(json.dumps(plan), encoding="utf-8")
    write_site(folder, host)
    return folder


def test_a_value_holding_a_script_is_escaped_in_every_atlas_page_kind(scripted_site):
    pages = {
        "index": scripted_site / "index.html",
        "layer": next((scripted_site / "layers").glob("*.html")),
        "unit": next(p for p in (scripted_site / "units").rglob("*.html") if "logits" not in p.parts),
        "class unit": scripted_site / "units" / "logits" / "1.html",
        "classes": scripted_site / "classes" / "index.html",
        "class": next((scripted_site / "classes").glob("1-*.html")),
    }
    for kind, page in pages.items():
        text = page.read_text(encoding="utf-8")
        assert SCRIPT not in text and "alert('x')" not in text, kind
        assert ESCAPED in text, kind  # the name is there, as text
        assert len(re.findall("<script", text)) == 1, kind  # the atlas's own script only


def test_a_value_holding_a_script_is_escaped_in_the_gallery():
    data = {"axes": {"class": [SCRIPT, "<!--"]}, "note": "</script><!--"}
    page = render_page(
        "dreamengine.study", "gallery.html", title=SCRIPT, data=data, style=Markup(""), script=Markup("")
    )
    assert f"<title>{ESCAPED}</title>" in page and f"<h1>{ESCAPED}</h1>" in page
    assert SCRIPT not in page and "</script><!--" not in page and page.count("<script") == 2
    block = re.search(r'<script id="study-data" type="application/json">(.*?)</script>', page, flags=re.S)
    assert block and json.loads(block[1]) == data  # JSON inside the block, not HTML-escaped: script_json's escapes


@pytest.mark.parametrize(("package", "template"), TEMPLATES)
def test_a_missing_template_value_fails_loudly(package, template):
    with pytest.raises(UndefinedError):
        render_page(package, template)


def test_a_missing_attribute_fails_loudly_rather_than_printing_nothing():
    frame = {"page": "classes/x.html", "title": "x", "crumbs": [], "prev": None, "next": None, "up": None}
    frame |= {"stylesheet": STYLESHEET, "script": SCRIPT_PATH}
    dream = {"page": "units/logits/0.html", "dream": "units/logits/0.png"}
    with pytest.raises(UndefinedError, match="no attribute 'name'"):
        render_page("dreamengine.atlas", "class.html", **frame, dream=dream, found={}, feeders=[], layer=None)
    template = page_templates("dreamengine.atlas").from_string("{{ unit.nothing }}")
    with pytest.raises(UndefinedError, match="nothing"):
        template.render(unit={})


def test_every_environment_autoescapes_and_is_strict():
    for package in {package for package, _ in TEMPLATES}:
        environment = page_templates(package)
        assert environment.from_string("{{ v }}").render(v="<b>") == "&lt;b&gt;"
        assert environment.from_string("{{ v|script_json }}").render(v="</script>") == '"\\u003c/script\\u003e"'


@pytest.mark.parametrize(
    ("package", "name"),
    [
        ("dreamengine.run", "templates/page.html"),
        *((package, f"templates/{template}") for package, template in TEMPLATES),
        ("dreamengine.atlas", "templates/frame.html"),
        ("dreamengine.atlas", "templates/thumb.html"),
        ("dreamengine.atlas", "atlas.css"),
        ("dreamengine.atlas", "atlas.js"),
        ("dreamengine.study", "gallery.css"),
        ("dreamengine.study", "gallery.js"),
    ],
)
def test_templates_styles_and_scripts_are_package_files(package, name):
    assert resources.files(package).joinpath(name).is_file()


def test_the_gallerys_inlined_style_and_script_cannot_end_their_block():
    for name, closing in (("gallery.css", "</style"), ("gallery.js", "</script")):
        text = resources.files("dreamengine.study").joinpath(name).read_text(encoding="utf-8").lower()
        assert closing not in text and "<!--" not in text, name
