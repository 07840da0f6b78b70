"""The atlas's site in headless Chromium, from ``file://``: every picture loads, links lead to pages, no console
error, no request leaves the folder, hostile names break nothing, and the keys, sorting and search work.

One browser serves the whole module (a start costs about a second); the tests skip without Chromium.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from PIL import Image

from atlas_folder import CLASSES, HOSTILE_CLASS, QUOTED_LAYER, QUOTED_SLUG, write_atlas_folder
from chromium import Chromium, find_chromium
from dreamengine.atlas.site import write_site
from dreamengine.plugins import load_plugins


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = write_atlas_folder(tmp_path_factory.mktemp("site") / "atlas")
    write_site(folder, load_plugins(entry_points=False, blocked=(), trace=False))
    return folder


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    path = find_chromium()
    if not path:
        pytest.skip("the page tests need Chromium (apt-get install chromium)")
    chromium = Chromium(path, str(tmp_path_factory.mktemp("profile")))
    chromium.send("Network.enable", session=True)
    yield chromium
    chromium.close()


#: Load every picture of the page (lazy ones too) and report each, with the page's links and sections.
LOOK = """
(async () => {
  const images = [...document.images];
  for (const image of images) image.loading = "eager";
  await Promise.all(images.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
  return {
    images: images.map(i => ({src: i.src, ok: i.naturalWidth > 0, alt: i.alt})),
    links: [...document.querySelectorAll("a[href]")].map(a => a.href),
    sections: [...document.querySelectorAll("section[id]")].map(s => s.id),
    title: document.title,
  };
})()
"""


def _open(browser: Chromium, page: Path) -> dict:
    browser.open(page.resolve().as_uri())
    return browser.evaluate(LOOK)


def _inside(url: str, folder: Path) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "file" and folder.resolve() in Path(unquote(parts.path)).resolve().parents


def test_every_page_shows_its_pictures_and_links_inside_the_folder_without_errors(site, browser):
    pages = ["index.html", f"layers/{QUOTED_SLUG}.html", f"units/{QUOTED_SLUG}/1.html", "units/logits/1.html"]
    pages += ["classes/index.html", "classes/1-script-img-src-x-onerror-alert-1.html"]
    seen = {page: _open(browser, site / page) for page in pages}
    for page, look in seen.items():
        assert all(image["ok"] and image["alt"] for image in look["images"]), (page, look)
        assert look["images"] or page == "classes/index.html"
        for link in look["links"]:
            assert _inside(link, site) and Path(unquote(urlsplit(link).path)).is_file(), (page, link)
    assert seen[f"units/{QUOTED_SLUG}/1.html"]["sections"] == ["dream", "variants", "examples", "classes"]
    assert len(seen[f"layers/{QUOTED_SLUG}.html"]["images"]) == 3
    assert seen["units/logits/1.html"]["title"] == f"logits · class 1: {HOSTILE_CLASS}"
    assert seen["classes/1-script-img-src-x-onerror-alert-1.html"]["title"] == f"class 1: {HOSTILE_CLASS}"
    assert seen[f"layers/{QUOTED_SLUG}.html"]["title"] == QUOTED_LAYER
    requests = [e["params"]["request"]["url"] for e in browser.events if e.get("method") == "Network.requestWillBeSent"]
    assert len(requests) > 20 and [url for url in requests if not _inside(url, site)] == []
    assert browser.problems() == []
    assert not [e for e in browser.events if e.get("method") == "Page.javascriptDialogOpening"]  # no alert(1)


def _key(browser: Chromium, key: str, code: str, text: str = "") -> None:
    for kind in ("keyDown", "keyUp"):
        browser.send(
            "Input.dispatchKeyEvent",
            session=True,
            type=kind,
            key=key,
            code=code,
            text=text if kind == "keyDown" else "",
        )


def _after_load(browser: Chromium) -> str:
    browser._wait(lambda m: m.get("method") == "Page.loadEventFired")
    return unquote(browser.evaluate("location.pathname"))


def test_arrow_keys_go_to_the_neighbours_and_u_goes_up(site, browser):
    browser.open((site / "units" / QUOTED_SLUG / "1.html").resolve().as_uri())
    _key(browser, "ArrowRight", "ArrowRight")
    assert _after_load(browser).endswith(f"units/{QUOTED_SLUG}/2.html")
    _key(browser, "ArrowLeft", "ArrowLeft")
    _after_load(browser)
    _key(browser, "ArrowLeft", "ArrowLeft")
    assert _after_load(browser).endswith(f"units/{QUOTED_SLUG}/0.html")
    _key(browser, "u", "KeyU", "u")
    assert _after_load(browser).endswith(f"layers/{QUOTED_SLUG}.html")
    assert browser.problems() == []


ORDER = '[...document.querySelectorAll("#units > li")].filter(li => !li.hidden).map(li => li.dataset.unit).join()'


def test_a_layer_sorts_by_check_and_unit_and_slash_finds_a_unit(site, browser):
    browser.open((site / "layers" / f"{QUOTED_SLUG}.html").resolve().as_uri())
    assert browser.evaluate(ORDER) == "0,1,2,3"
    browser.evaluate('document.querySelector("[data-sort=check]").click()')
    assert browser.evaluate(ORDER) == "2,1,0,3"  # the largest check first, the unchecked last
    browser.evaluate('document.querySelector("[data-sort=unit]").click()')
    assert browser.evaluate(ORDER) == "0,1,2,3"
    _key(browser, "/", "Slash", "/")
    assert browser.evaluate("document.activeElement.type") == "search"
    browser.send("Input.insertText", session=True, text="2")
    assert browser.evaluate(ORDER) == "2"
    assert browser.problems() == []


def test_the_class_search_finds_a_hostile_name(site, browser):
    browser.open((site / "classes" / "index.html").resolve().as_uri())
    visible = '[...document.querySelectorAll("#classes > li")].filter(li => !li.hidden).map(li => li.textContent)'
    assert len(browser.evaluate(visible)) == len(CLASSES)
    _key(browser, "/", "Slash", "/")
    browser.send("Input.insertText", session=True, text="<img")
    assert browser.evaluate(visible) == [f"1 {HOSTILE_CLASS}"]
    _key(browser, "Enter", "Enter", "\r")
    assert _after_load(browser).endswith("classes/1-script-img-src-x-onerror-alert-1.html")
    assert browser.problems() == []


def _screenshots():
    """The docs' screenshot helper, examples/atlas_screenshots.py, as a module."""
    path = Path(__file__).resolve().parents[1] / "examples" / "atlas_screenshots.py"
    spec = importlib.util.spec_from_file_location("atlas_screenshots", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_screenshot_helper_picks_the_index_a_layer_and_a_dreamt_unit_and_shoots_them(site, browser, tmp_path):
    helper = _screenshots()
    assert helper.pages(site, None, None) == {
        "atlas-index": site / "index.html",
        "atlas-layer": site / "layers" / f"{QUOTED_SLUG}.html",
        "atlas-unit": site / "units" / QUOTED_SLUG / "0.html",
    }
    assert helper.pages(site, "logits", 2)["atlas-unit"] == site / "units" / "logits" / "2.html"
    helper.screenshot(find_chromium(), site / "units" / QUOTED_SLUG / "1.html", tmp_path / "unit.jpg", 640, 480)
    picture = Image.open(tmp_path / "unit.jpg")
    assert picture.size == (640, 480) and picture.format == "JPEG"
    assert picture.convert("L").getextrema()[0] < 40  # the dark background: a page, not a blank window


def test_find_matches_a_number_whole_and_a_name_anywhere(site, browser):
    browser.open((site / "layers" / f"{QUOTED_SLUG}.html").resolve().as_uri())
    cases = {
        '["127 tabby", "27"]': False,
        '["270 owl", "27"]': False,
        '["27 owl", "27"]': True,
        '["127 tabby", "tab"]': True,
        '["127 tabby", "127 tab"]': True,
        '["127 tabby", "12 tab"]': False,
    }
    for arguments, expected in cases.items():
        assert browser.evaluate(f"matches(...{arguments})") is expected, arguments
    assert browser.problems() == []
