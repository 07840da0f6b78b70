"""The atlas's static site, built from a small atlas folder with hostile names: every page, every link inside the
folder, names escaped, the panels in order, a plugin's own panel on every unit page."""

from __future__ import annotations

import json
import re
import types
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atlas_folder import CLASSES, HOSTILE_CLASS, QUOTED_LAYER, QUOTED_SLUG, write_atlas_folder
from dreamengine import DreamError, Panel, hookimpl
from dreamengine.atlas.contents import read_atlas
from dreamengine.atlas.site import write_site
from dreamengine.cli import cli
from dreamengine.plugins import load_plugins
from dreamengine.run.pages import relative_url
from dreamengine.testing import plugin_host


class _Tags(HTMLParser):
    """The page's elements and attribute names, in order: what a name that broke out of its place would change."""

    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, tuple(name for name, _ in attrs)))


def tags(folder: Path) -> dict[str, list]:
    """Each page's elements, by the page's path with the class pages' names left out."""
    found = {}
    for page in sorted(folder.rglob("*.html")):
        parser = _Tags()
        parser.feed(page.read_text(encoding="utf-8"))
        found[re.sub(r"classes/(\d+)-?[^/]*$", r"classes/\1", page.relative_to(folder).as_posix())] = parser.tags
    return found


class _Links(HTMLParser):
    """Every ``src`` and ``href`` of a page, and the ``id`` of each ``<section>``."""

    def __init__(self):
        super().__init__()
        self.links, self.sections, self.images = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.links += [attrs[name] for name in ("src", "href") if name in attrs]
        if tag == "img":
            self.images.append(attrs)
        if tag == "section" and "id" in attrs:
            self.sections.append(attrs["id"])


def parse(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


@pytest.fixture
def site(tmp_path, host):
    folder = write_atlas_folder(tmp_path / "atlas")
    write_site(folder, host)
    return folder


def test_the_site_has_every_page(site):
    pages = {p.relative_to(site).as_posix() for p in site.rglob("*.html")}
    layer = QUOTED_SLUG
    assert pages == {
        "index.html",
        f"layers/{layer}.html",
        "layers/logits.html",
        *(f"units/{layer}/{unit}.html" for unit in range(4)),
        *(f"units/logits/{unit}.html" for unit in range(3)),
        "classes/index.html",
        "classes/0-tench.html",
        "classes/1-script-img-src-x-onerror-alert-1.html",
        "classes/2-a-b-c.html",
    }
    assert (site / "assets" / "atlas.css").is_file() and (site / "assets" / "atlas.js").is_file()
    assert not [p for p in site.rglob("*") if p.name.endswith(".tmp")]


def test_every_link_and_picture_is_a_file_inside_the_folder(site):
    for page in site.rglob("*.html"):
        for link in parse(page).links:
            parts = urlsplit(link)
            assert not parts.scheme and not parts.netloc and not link.startswith("/"), (page, link)
            target = (page.parent / unquote(parts.path)).resolve()
            assert target.is_file() and site.resolve() in target.parents, (page, link)


def test_no_file_of_the_site_names_anything_outside_it(site):
    written = [*site.rglob("*.html"), *(site / "assets").iterdir()]
    assert len(written) == 14 + 2  # the pages, the stylesheet and the script
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"https?:|//[a-z]|@import|url\(", text, flags=re.I), path


def test_grids_show_thumbnails_lazily_never_the_full_dreams(site):
    for page in [site / "index.html", *(site / "layers").iterdir()]:
        images = parse(page).images
        assert images and all(i["src"].endswith(".jpg") and i["loading"] == "lazy" and i["alt"] for i in images)
    layer = parse(site / "layers" / f"{QUOTED_SLUG}.html")
    assert len(layer.images) == 3  # unit 3 is not dreamt yet: a placeholder
    assert all(image["alt"].startswith(QUOTED_LAYER) for image in layer.images)


def test_hostile_names_are_escaped_in_every_page(site):
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert HOSTILE_CLASS not in text and "<img src=x" not in text and "<c>" not in text, page
        assert text.count("<script") == 1 and "onerror=" not in text.replace("onerror=alert", ""), page
    title = (site / "classes" / "1-script-img-src-x-onerror-alert-1.html").read_text(encoding="utf-8")
    assert "<title>class 1: &lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;</title>" in title
    layer = (site / "layers" / f"{QUOTED_SLUG}.html").read_text(encoding="utf-8")
    assert "<h1>blocks.&#34;3&#34;&#39;s</h1>" in layer  # markupsafe's spelling of the quotes


@pytest.fixture(scope="module")
def builtins():
    return load_plugins(entry_points=False, blocked=(), trace=False)


@pytest.fixture(scope="module")
def plain_tags(builtins, tmp_path_factory):
    """The elements of each page of an atlas whose names are plain words."""
    folder = write_atlas_folder(tmp_path_factory.mktemp("plain"), layer_name="layer", classes=["a", "b", "c"])
    write_site(folder, builtins)
    return tags(folder)


#: Names made mostly of what HTML, URLs and scripts read (tags, quotes, entities, comments), or of anything.
NAMES = st.text(st.sampled_from("<>&\"'/=!-?#% ab"), max_size=12) | st.text(max_size=12)


@given(layer=NAMES.filter(bool), names=st.lists(NAMES, min_size=3, max_size=3))
@settings(max_examples=15)
def test_any_layer_and_class_names_leave_every_page_as_it_is_built(
    builtins, plain_tags, tmp_path_factory, layer, names
):
    named = write_atlas_folder(tmp_path_factory.mktemp("named"), layer_name=layer, classes=names)
    write_site(named, builtins)
    assert tags(named) == plain_tags


def test_a_unit_page_shows_its_panels_in_order_with_its_dream_examples_and_classes(site):
    page = site / "units" / QUOTED_SLUG / "1.html"
    parsed = parse(page)
    assert parsed.sections == ["dream", "variants", "examples", "classes"]
    sources = [image["src"] for image in parsed.images]
    assert sources[:2] == ["1.png", "1-v1.png"]
    assert sources[2:] == [f"../../examples/{relative_url(QUOTED_SLUG, '')}/1-{rank}.jpg" for rank in (0, 1, "neg0")]
    text = page.read_text(encoding="utf-8")
    assert '<link rel="prev" href="0.html">' in text and '<link rel="next" href="2.html">' in text
    assert ">1.00</span>" in text and 'class="peak" style="left: 75.0%; top: 75.0%"' in text
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;/001.jpg" in text  # the example's image, named
    assert "../../classes/1-script-img-src-x-onerror-alert-1.html" in text  # the class its weights support most
    undreamt = site / "units" / QUOTED_SLUG / "3.html"  # not dreamt yet, its classes known from its weights
    assert parse(undreamt).sections == ["dream", "classes"] and "Not dreamt yet" in undreamt.read_text()


def test_the_check_is_the_dream_over_the_best_example_and_summarised_per_layer(site):
    atlas = read_atlas(site)
    checks = [unit.check for unit in atlas.layer_units(atlas.layers[0])]
    assert atlas.plan["variants"] == 1 and atlas.size == (32, 32) and atlas.model == "tiny"
    assert [check["ratio"] for check in checks] == [pytest.approx(2 / 3), 1.0, pytest.approx(4 / 3), None]
    assert [check["passed"] for check in checks] == [False, True, True, None]
    assert "2 of 3 units checked at ≥ 1 (67 %)" in (site / "index.html").read_text(encoding="utf-8")
    layer = (site / "layers" / f"{QUOTED_SLUG}.html").read_text(encoding="utf-8")
    # data-check is a unit's place by the check, the weakest first: sorting by it puts the strongest first
    assert re.findall(r'data-unit="(\d)" data-name="[^"]*"(?: data-check="(\d+)")?', layer) == [
        ("0", "1"),
        ("1", "2"),
        ("2", "3"),
        ("3", ""),
    ]


def test_a_class_page_shows_its_dream_and_the_units_that_feed_it(site):
    parsed = parse(site / "classes" / "0-tench.html")
    assert [image["src"] for image in parsed.images] == [
        "../units/logits/0.png",
        *(f"../thumbs/{relative_url(QUOTED_SLUG, '')}/{unit}.jpg" for unit in (2,)),
    ]
    assert "../units/logits/0.html" in parsed.links and "1-script-img-src-x-onerror-alert-1.html" in parsed.links
    index = (site / "classes" / "index.html").read_text(encoding="utf-8")
    assert index.count("<li data-name=") == len(CLASSES) and "data-search" in index


def test_the_site_needs_neither_examples_nor_classes(tmp_path, host):
    folder = write_atlas_folder(tmp_path / "atlas", examples=False)
    (folder / "classes.json").unlink()
    write_site(folder, host)
    unit = parse(folder / "units" / QUOTED_SLUG / "0.html")
    assert unit.sections == ["dream", "variants"]
    assert "no check yet" in (folder / "index.html").read_text(encoding="utf-8")


def test_a_record_that_names_a_file_outside_the_folder_is_not_linked(tmp_path, host):
    folder = write_atlas_folder(tmp_path / "atlas")
    record = folder / "units" / QUOTED_SLUG / "0.json"
    record.write_text(record.read_text().replace(f'"units/{QUOTED_SLUG}/0.png"', '"../../../etc/passwd"'))
    assert read_atlas(folder).units[QUOTED_SLUG, 0].dream is None
    plan = folder / "atlas.json"
    plan.write_text(plan.read_text().replace(QUOTED_SLUG, "../up"))
    with pytest.raises(DreamError, match="which is no file name"):
        read_atlas(folder)
    with pytest.raises(DreamError, match="holds no atlas.json"):
        write_site(tmp_path / "empty", host)


def test_relative_urls_encode_every_name():
    assert relative_url("units/a b/7.png", "layers/x.html") == "../units/a%20b/7.png"
    assert relative_url("units/#%'\"<>?/7.png", "index.html") == "units/%23%25%27%22%3C%3E%3F/7.png"
    assert relative_url("index.html", "units/x/1.html") == "../../index.html"


class Weights(Panel):
    """A plugin's panel: the unit's number and layer, as a weight histogram would show them."""

    title = "Weights <of the unit>"

    def render(self, unit, atlas):
        return f"<p>weights of {self.escape(unit.layer.name)} unit {unit.unit}</p>"


class WeightsPlugin:
    @hookimpl
    def dreamengine_register_panels(self, register):
        register("weights", Weights)


def test_a_plugins_panel_appears_on_every_unit_page_after_the_built_ins(tmp_path):
    folder = write_atlas_folder(tmp_path / "atlas")
    with plugin_host(WeightsPlugin()) as host:
        assert host.registry.get("panels", "weights").summary.startswith("A plugin's panel")
        write_site(folder, host)
    for unit in range(4):
        page = folder / "units" / QUOTED_SLUG / f"{unit}.html"
        assert parse(page).sections[-1] == "weights"
        text = page.read_text(encoding="utf-8")
        assert f"<p>weights of blocks.&quot;3&quot;&#x27;s unit {unit}</p>" in text
        assert "<h2>Weights &lt;of the unit&gt;</h2>" in text


class Broken(Panel):
    def render(self, unit, atlas):
        raise KeyError("histogram")


class BrokenPlugin:
    @hookimpl
    def dreamengine_register_panels(self, register):
        register("broken", Broken)


class Wordless(Panel):
    def render(self, unit, atlas):
        return None


class WordlessPlugin:
    @hookimpl
    def dreamengine_register_panels(self, register):
        register("wordless", Wordless)


@pytest.mark.parametrize(
    "plugin, message",
    [
        (BrokenPlugin(), f"panel 'broken' failed on {QUOTED_LAYER!r} unit 0: KeyError: 'histogram'"),
        (WordlessPlugin(), "panel 'wordless' returned a NoneType, not the HTML of its section"),
    ],
)
def test_a_failing_panel_names_itself_and_the_unit(tmp_path, plugin, message):
    folder = write_atlas_folder(tmp_path / "atlas")
    with plugin_host(plugin) as host, pytest.raises(DreamError, match=re.escape(message)):
        write_site(folder, host)


def test_list_shows_the_built_in_panels(runner):
    result = runner.invoke(cli, ["list", "panels"])
    assert result.exit_code == 0, result.output
    for name in ("dream", "variants", "examples", "classes", "Panels", "the diversity objective"):
        assert name in result.output


def test_the_plugin_guides_panel_example_shows_on_the_unit_pages(tmp_path):
    guide = (Path(__file__).resolve().parents[1] / "docs" / "plugins.md").read_text(encoding="utf-8")
    code = re.search(r"### Atlas panels.*?```python\n(.*?)```", guide, flags=re.S).group(1)
    module = types.ModuleType("dreamengine_top_images")
    exec(compile(code, "plugins.md", "exec"), vars(module))
    folder = write_atlas_folder(tmp_path / "atlas")
    with plugin_host(module) as host:
        write_site(folder, host)
    page = folder / "units" / QUOTED_SLUG / "1.html"
    assert parse(page).sections == ["dream", "variants", "examples", "classes", "top-images"]
    assert "<li>&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;/001.jpg: 3</li>" in page.read_text(encoding="utf-8")


def test_a_class_the_atlas_shows_nothing_of_has_no_page_but_stays_listed(tmp_path, host):
    folder = write_atlas_folder(tmp_path / "atlas", classes=[*CLASSES, "quail"])
    links = json.loads((folder / "classes.json").read_text(encoding="utf-8"))
    links["classes"][3]["units"] = [[3, 0.5]]  # fed by a unit not dreamt, and the logits hold no dream of it
    (folder / "classes.json").write_text(json.dumps(links), encoding="utf-8")
    write_site(folder, host)
    pages = sorted(p.name for p in (folder / "classes").glob("*.html"))
    assert pages == ["0-tench.html", "1-script-img-src-x-onerror-alert-1.html", "2-a-b-c.html", "index.html"]
    index = (folder / "classes" / "index.html").read_text(encoding="utf-8")
    assert "quail (nothing dreamt yet)" in index and index.count("<li data-name=") == 4
    assert read_atlas(folder).class_of(3).page == "classes/index.html"  # what any link to it leads to
    last = parse(folder / "classes" / "2-a-b-c.html")
    assert not [link for link in last.links if "quail" in link]  # no "next" to a page that is not there


def test_a_layer_grid_marks_the_units_whose_check_failed(site):
    layer = (site / "layers" / f"{QUOTED_SLUG}.html").read_text(encoding="utf-8")
    items = re.findall(r'<li data-unit="(\d)"[^>]*?( class="failed")?>.*?</li>', layer, re.S)
    assert items == [("0", ' class="failed"'), ("1", ""), ("2", ""), ("3", "")]  # unit 0's dream fell short
    assert layer.count("check failed") == 1
