"""The dev mail catcher's page: each message's HTML version in a sandboxed frame, with its
links, and its text version, with a switch between them."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient

from tests.mailcatch import HOSTILE, catch
from wod.context import AppContext
from wod.portal.devmail import framed_html


def test_the_html_version_is_framed_in_a_sandbox_beside_the_text(
    client: TestClient, ctx: AppContext
) -> None:
    link = '<p><a href="http://127.0.0.1:8000/manage/x">Start the workshop</a></p>'
    catch(
        ctx.settings.dev.maildir,
        ctx.settings.smtp,
        ("Text only", "just text", ""),
        ("With HTML", "Start the workshop: http://127.0.0.1:8000/manage/x", link + HOSTILE),
    )
    page = client.get("/dev/mail").text
    frames = re.findall(r"<iframe [^>]*>", page)
    assert len(frames) == 1  # the text-only message has no frame and no switch
    frame = frames[0]
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in frame
    assert "allow-scripts" not in frame and "allow-same-origin" not in frame
    srcdoc = html.unescape(re.search(r'srcdoc="([^"]*)"', frame)[1])  # type: ignore[index]
    assert srcdoc.index("default-src 'none'") < srcdoc.index("<script>")  # policy first
    assert '<base target="_blank">' in srcdoc and 'href="http://127.0.0.1:8000/manage/x"' in srcdoc
    assert page.count('type="radio"') == 2 and 'value="html" checked' in page
    assert re.search(
        r"<pre class=\"mail-text\">Start the workshop: http://\S+/manage/x\s*</pre>", page
    )
    assert "<script>parent" not in page  # escaped into the attribute, never markup of the page


def test_framing_keeps_the_head_of_a_full_document() -> None:
    framed = framed_html("<html><HEAD lang=en><title>T</title></head><body>B</body></html>")
    assert framed.startswith('<html><HEAD lang=en><meta http-equiv="Content-Security-Policy"')
    assert framed.count("<head") + framed.count("<HEAD") == 1
    bare = framed_html("<p>B</p>")
    assert bare.startswith("<!doctype html><html><head><meta") and "<body><p>B</p>" in bare
