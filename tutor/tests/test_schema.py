import re

import pytest
from django.core.management import call_command


def test_the_openapi_schema_builds_without_warnings(tmp_path):
    target = tmp_path / "schema.yml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    schema = target.read_text()
    for path in ("/api/generate-exercise:", "/api/users:", "/api/errors/{id}:", "/api/exercises:"):
        assert path in schema


@pytest.mark.django_db
def test_the_root_redirects_to_swagger(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/api/schema/swagger/"


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["/api/schema/swagger/", "/api/schema/redoc/"])
def test_the_docs_pages_load_their_assets_from_this_server(client, page, settings):
    settings.DEBUG = False

    response = client.get(page)

    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', html)
    assert assets, html
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert client.get(asset).status_code == 200, asset
    assert "cdn" not in html.lower()


@pytest.mark.django_db
def test_the_schema_document_is_served(client):
    response = client.get("/api/schema", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert "/api/generate-exercise" in response.json()["paths"]
