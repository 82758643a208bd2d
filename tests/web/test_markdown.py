"""js/markdown.js in Chromium: Markdown becomes elements, anything else stays text, and a
link keeps its address only for http, https and mailto."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Playwright

from assistant.auth import PasswordHasher
from assistant.services import build_services
from assistant.settings import Settings
from server.app import create_app
from server.background import serve_in_thread
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS

RENDER = """
async (text) => {
  const app = document.querySelector('script[type=module]').src;
  const { renderMarkdown } = await import(new URL('./markdown.js', app).href);
  const box = document.createElement('div');
  box.append(renderMarkdown(text));
  return box.innerHTML;  // read back to compare; the renderer itself never writes HTML
}
"""
LINK = ' rel="noopener noreferrer nofollow" target="_blank"'


@pytest.fixture(scope="module")
def render(
    playwright_session: Playwright, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], str]]:
    """Markdown to the HTML of the nodes it becomes, in a page of the app (one server and
    one page for the whole table)."""
    settings = Settings.load(data_dir=tmp_path_factory.mktemp("markdown") / "data")
    services = build_services(settings, hasher=PasswordHasher.fast_for_tests())
    browser = playwright_session.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
    )
    try:
        with serve_in_thread(create_app(settings, services)) as url:
            page = browser.new_page()
            page.goto(url + "/")
            yield lambda text: str(page.evaluate(RENDER, text))
    finally:
        browser.close()
        services.close()


@pytest.mark.parametrize(
    ("markdown", "html"),
    [
        (
            "plain *em* **strong** ~~gone~~",
            "<p>plain <em>em</em> <strong>strong</strong> <del>gone</del></p>",
        ),
        ("snake_case_name and 2*3*4", "<p>snake_case_name and 2<em>3</em>4</p>"),
        ("a\nb", "<p>a<br>b</p>"),
        ("`<b>` and ``a ` b``", "<p><code>&lt;b&gt;</code> and <code>a ` b</code></p>"),
        ("<img src=x onerror=alert(1)>", "<p>&lt;img src=x onerror=alert(1)&gt;</p>"),
        ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
        ("[x](https://a.example/p?q=1)", f'<p><a href="https://a.example/p?q=1"{LINK}>x</a></p>'),
        ("[x](mailto:ada@example.com)", f'<p><a href="mailto:ada@example.com"{LINK}>x</a></p>'),
        ("[x](JaVaScRiPt:alert(1))", "<p>[x](JaVaScRiPt:alert(1))</p>"),
        ("[x](vbscript:msgbox)", "<p>[x](vbscript:msgbox)</p>"),
        ("[x](data:text/html,hi)", "<p>[x](data:text/html,hi)</p>"),
        ("[x](/relative) [y](//evil.example)", "<p>[x](/relative) [y](//evil.example)</p>"),
        ("<javascript:alert(1)>", "<p>&lt;javascript:alert(1)&gt;</p>"),
        ("<https://a.example>", f'<p><a href="https://a.example/"{LINK}>https://a.example</a></p>'),
        (
            "see https://a.example/x.",
            f'<p>see <a href="https://a.example/x"{LINK}>https://a.example/x</a>.</p>',
        ),
        (
            "![pic](https://a.example/p.png)",
            f'<p>!<a href="https://a.example/p.png"{LINK}>pic</a></p>',
        ),
        (
            "[**b**](https://a.example)",
            f'<p><a href="https://a.example/"{LINK}><strong>b</strong></a></p>',
        ),
        ("### first\n# then", '<h3 class="md-heading">first</h3><h3 class="md-heading">then</h3>'),
        ("# a\n#### b", '<h3 class="md-heading">a</h3><h4 class="md-heading">b</h4>'),
        ("- a\n- b", "<ul><li>a</li><li>b</li></ul>"),
        ("3. a\n4. b\n   - c", '<ol start="3"><li>a</li><li>b<ul><li>c</li></ul></li></ol>'),
        ("> *q*\n> r", "<blockquote><p><em>q</em><br>r</p></blockquote>"),
        ("---", "<hr>"),
        (
            "```js\nlet a = '<i>';\n```\nafter",
            '<pre class="md-code" aria-label="js code" tabindex="0"><code data-language="js">'
            "let a = '&lt;i&gt;';</code></pre><p>after</p>",
        ),
        (
            "```\nstill streaming",
            '<pre class="md-code" tabindex="0"><code>still streaming</code></pre>',
        ),
        ('```" onmouseover="x\nz\n```', '<pre class="md-code" tabindex="0"><code>z</code></pre>'),
    ],
)
def test_markdown_renders_to_elements(
    render: Callable[[str], str], markdown: str, html: str
) -> None:
    assert render(markdown) == html
