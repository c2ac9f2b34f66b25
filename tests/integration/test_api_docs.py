"""``/api/docs`` from the platform's own copy of Swagger UI: no other site named on the page,
and every asset it names served."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def test_the_docs_page_names_only_local_assets_and_they_are_served(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert not re.search(r"https?://", page.text), "the docs page names another site"
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sorted(assets) == [
        "/api/docs/assets/favicon-32x32.png",
        "/api/docs/assets/swagger-ui-bundle.js",
        "/api/docs/assets/swagger-ui.css",
    ]
    types = {}
    for asset in assets:
        answer = client.get(asset)
        assert answer.status_code == 200, asset
        types[asset.rsplit(".", 1)[1]] = answer.headers["content-type"].split(";")[0]
        assert len(answer.content) > 100, asset
    assert types == {"png": "image/png", "js": "text/javascript", "css": "text/css"}
    assert "'/api/v1/openapi.json'" in page.text and '"validatorUrl": null' in page.text
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/api/docs/assets/index.html").status_code == 404  # only what is copied
