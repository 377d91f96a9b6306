"""Sphinx configuration of the course website (`make site`; see tools/site.py).

tools/site.py stages the pages of one language under build/site-src/<lang>/ and runs
`sphinx-build -c docs` on it with COURSE_SITE_CONFIG naming that language's generated settings
(JSON: its language code, every built language with its label and pages, the repository URL).
Nothing is executed: the notebooks' stored outputs are rendered as they are.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
SITE = json.loads(Path(os.environ.get("COURSE_SITE_CONFIG", ROOT / "build/site-src/en/_site.json"))
                  .read_text(encoding="utf-8"))
LANG = SITE["lang"]
TITLES = {"en": "Attention in large language models", "zh": "大语言模型中的注意力机制"}

project = TITLES.get(LANG, TITLES["en"])
author = "the course's contributors"
copyright = "the course's contributors"
language = LANG
html_title = project

extensions = ["myst_nb"]
exclude_patterns = ["_site.json", "**/.ipynb_checkpoints"]
templates_path = [str(DOCS / "_templates")]
html_static_path = [str(DOCS / "_static"), SITE["assets"]]  # course.css; the MathJax copy
html_css_files = ["course.css"]
html_favicon = str(DOCS / "_static" / "favicon.svg")  # else the browser asks for /favicon.ico (404)

# Stored outputs only: a website build never runs a notebook.
nb_execution_mode = "off"
nb_ipywidgets_js = {}  # no require.js or widget manager from a CDN; widgets get a static note instead
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "html_image"]
myst_heading_anchors = 4
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header"]

# MathJax 3 served from the site itself (tools/site.py copies it from the pinned PyPI package).
mathjax_path = "mathjax/tex-mml-chtml.js"
mathjax3_config = {  # textmacros: \_ inside \text{...} prints "_", as in JupyterLab
    "loader": {"load": ["[tex]/textmacros"]},
    "tex": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]],
            "packages": {"[+]": ["textmacros"]}},
}

html_theme = "sphinx_book_theme"
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "article_header_end": ["lang-switch.html", "article-header-buttons.html"],
    "use_download_button": True,
    "use_fullscreen_button": False,
}
if SITE.get("repo_url"):
    html_theme_options.update(repository_url=SITE["repo_url"], use_repository_button=True,
                              repository_branch="main")
html_last_updated_fmt = None
html_context = {"default_mode": "light"}  # an empty mode makes the theme log a console error
html_show_sourcelink = False


def _language_links(app, pagename, templatename, context, doctree):
    """Links to the same page in every other built language (its index where it has no such page)."""
    up = "../" * (pagename.count("/") + 1)
    links = []
    for other in SITE["languages"]:
        target = pagename if pagename in other["pages"] else "index"
        links.append({"code": other["code"], "label": other["label"],
                      "current": other["code"] == LANG, "href": f"{up}{other['code']}/{target}.html"})
    context["course_languages"] = links


def setup(app):
    app.connect("html-page-context", _language_links)
