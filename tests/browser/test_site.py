"""The course website (build/site, from `make site`) in Chromium: pages, math, images, links, search."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import snowballstemmer

SITE = Path(__file__).resolve().parents[2] / "build" / "site"

LANG = "en"
CHAPTERS = sorted(p.relative_to(SITE / LANG).as_posix() for p in (SITE / LANG / "chapters").glob("*.html"))
# Loaded in the browser: the landing page, every chapter, every reference page. The solutions pages
# (code and text, no outputs) are checked with the rest by the link test.
SHOWN = ["index.html", *CHAPTERS,
         *sorted(p.relative_to(SITE / LANG).as_posix() for p in (SITE / LANG).glob("docs/*.html")),
         *(["CONTRIBUTING.html"] if (SITE / LANG / "CONTRIBUTING.html").is_file() else [])]
PAGES = [*SHOWN, *sorted(p.relative_to(SITE / LANG).as_posix() for p in (SITE / LANG).glob("solutions/*.html"))]


class Visit:
    """One page load with everything that went wrong on the way recorded."""

    def __init__(self, page, base: str):
        self.page, self.base, self.problems = page, base, []
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text} {m.location}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))
        page.on("request", lambda r: not r.url.startswith((base, "data:", "blob:", "about:"))
                and self.problems.append(f"left the site: {r.url}"))

    def open(self, path: str) -> None:
        self.page.goto(f"{self.base}/{LANG}/{path}", wait_until="load")
        self.page.wait_for_load_state("networkidle")


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def test_the_site_has_every_chapter_in_order(page, site_url, shots):
    assert len(CHAPTERS) >= 10, CHAPTERS
    visit = Visit(page, site_url)
    page.goto(site_url)  # the root redirects to the first language
    page.wait_for_url(f"**/{LANG}/index.html")
    nav = page.eval_on_selector_all(".bd-sidenav a.reference.internal", "as => as.map(a => a.getAttribute('href'))")
    in_nav = [h.split("#")[0] for h in nav if h.startswith("chapters/")]
    assert in_nav == CHAPTERS, (in_nav, CHAPTERS)
    page.screenshot(path=shots / "site_index.png")
    assert not visit.problems, visit.problems


@pytest.mark.parametrize("path", SHOWN)
def test_page_loads_without_errors_and_renders_math_and_images(page, site_url, shots, path):
    visit = Visit(page, site_url)
    visit.open(path)
    n_math = page.locator(".math").count()
    if n_math:  # MathJax typesets every formula; none is left as raw TeX or an error
        page.wait_for_function(f"document.querySelectorAll('mjx-container').length >= {n_math}", timeout=30_000)
        assert page.locator("mjx-merror, mjx-container [data-mjx-error]").count() == 0
        assert page.evaluate("typeof MathJax === 'object' && !!MathJax.startup")
    broken = page.evaluate("""() => Promise.all([...document.images].map(img => {
        img.loading = 'eager';
        return img.decode().then(() => img.naturalWidth > 0 ? null : img.src, () => img.src);
    })).then(r => r.filter(Boolean))""")
    assert not broken, f"images that did not load on {path}: {broken}"
    if path.startswith("chapters/") or path == "index.html":
        page.screenshot(path=shots / f"site_{path.replace('/', '_').removesuffix('.html')}.png")
    assert not visit.problems, f"{path}: {visit.problems}"


def test_math_uses_the_sites_own_mathjax(page, site_url, shots):
    chapter = next(p for p in CHAPTERS if "04_" in p)
    scripts = []
    page.on("request", lambda r: "mathjax" in r.url.lower() and scripts.append(r.url))
    Visit(page, site_url).open(chapter)
    page.wait_for_selector("mjx-container", state="attached", timeout=30_000)
    assert scripts and all(u.startswith(f"{site_url}/{LANG}/_static/mathjax/") for u in scripts), scripts
    block = page.locator("mjx-container[display='true']:visible").first
    block.scroll_into_view_if_needed()
    block.screenshot(path=shots / "site_math_block.png")


def _fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body = response.read()
            return response.status, body.decode("utf-8", "replace") if url.split("#")[0].endswith(".html") else ""
    except urllib.error.HTTPError as err:
        return err.code, ""


def test_every_internal_link_resolves(site_url):
    """Every link of every page, resolved as a browser resolves it, answers 200 and its #id exists."""
    cache: dict[str, tuple[int, str]] = {}
    broken = []
    for path in PAGES:
        page_url = f"{site_url}/{LANG}/{path}"
        html = (SITE / LANG / path).read_text(encoding="utf-8")
        for href in re.findall(r"""<a\s[^>]*?href=["']([^"']+)["']""", html):
            href = urllib.parse.urljoin(page_url, href.replace("&amp;", "&"))
            if not href.startswith(site_url):
                continue
            target, _, fragment = href.partition("#")
            if target not in cache:
                cache[target] = _fetch(target)
            status, body = cache[target]
            if status != 200:
                broken.append(f"{path}: {href} -> HTTP {status}")
            elif fragment and body and not re.search(
                    rf"""\bid=["']{re.escape(urllib.parse.unquote(fragment))}["']""", body):
                broken.append(f"{path}: {href} -> no element with id {fragment!r}")
    assert len(cache) > len(PAGES), "too few links were checked"
    assert not broken, "\n".join(sorted(set(broken)))


def _unique_chapter_word() -> tuple[str, str]:
    """A word whose search term occurs in exactly one chapter page and nowhere else on the site."""
    text = (SITE / LANG / "searchindex.js").read_text(encoding="utf-8")
    index = json.loads(text[text.index("(") + 1:text.rindex(")")])
    docnames, titles = index["docnames"], " ".join([*index["titles"], *index.get("alltitles", {})]).lower()
    stem = snowballstemmer.stemmer("porter").stemWord
    for doc in sorted(d for d in docnames if d.startswith("chapters/")):
        html = (SITE / LANG / f"{doc}.html").read_text(encoding="utf-8")
        article = re.sub(r"<[^>]+>", " ", html.split('<article class="bd-article">', 1)[-1])
        words = sorted(set(re.findall(r"\b[a-z]{9,14}\b", article)))
        for word in words:
            where = index["terms"].get(stem(word))
            if where is not None and not isinstance(where, list) and docnames[where] == doc \
                    and word not in titles and stem(word) not in index.get("titleterms", {}):
                return word, doc
    raise AssertionError("no word occurs in exactly one chapter")


def test_search_finds_a_word_from_one_chapter_only(page, site_url, shots):
    word, doc = _unique_chapter_word()
    visit = Visit(page, site_url)
    visit.open(f"search.html?q={word}")
    page.wait_for_selector("#search-results ul.search li", timeout=30_000)
    page.wait_for_function("!document.querySelector('#search-results h2') || "
                           "!/Searching/.test(document.querySelector('#search-results h2').textContent)")
    found = page.eval_on_selector_all("#search-results ul.search li a", "as => as.map(a => a.getAttribute('href'))")
    pages = {h.split("#")[0].split("?")[0].removesuffix(".html") for h in found}
    page.screenshot(path=shots / "site_search.png")
    assert pages == {doc}, (word, doc, found)
    assert not visit.problems, visit.problems
