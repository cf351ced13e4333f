"""Who may call what: anonymous callers, service clients and staff."""

import uuid

import pytest
from django.test import RequestFactory

from tutor import api_keys, buffer
from tutor.tests.conftest import DEMO_USER_ID
from tutor.views import server_failed

pytestmark = pytest.mark.django_db
SOME_ID = "00000000-0000-0000-0000-000000000001"

EVERY_API_CALL = [
    ("get", "/api/generate-exercise"),
    ("post", "/api/error-events"),
    ("get", "/api/users"),
    ("post", "/api/users"),
    ("get", f"/api/users/{SOME_ID}"),
    ("put", f"/api/users/{SOME_ID}"),
    ("patch", f"/api/users/{SOME_ID}"),
    ("delete", f"/api/users/{SOME_ID}"),
    ("get", f"/api/users/{SOME_ID}/progress"),
    ("get", "/api/errors"),
    ("post", "/api/errors"),
    ("get", "/api/errors/1"),
    ("delete", "/api/errors/1"),
    ("get", "/api/exercises"),
    ("post", "/api/exercises"),
    ("get", f"/api/exercises/{SOME_ID}"),
    ("put", f"/api/exercises/{SOME_ID}"),
    ("patch", f"/api/exercises/{SOME_ID}"),
    ("delete", f"/api/exercises/{SOME_ID}"),
]
STAFF_ONLY = [
    call
    for call in EVERY_API_CALL
    if (call[1].startswith("/api/users") and not call[1].endswith("/progress"))
    or (call[1].startswith("/api/exercises") and call[0] != "get")
    or (call[1].startswith("/api/errors") and call[0] != "post")
]


@pytest.mark.parametrize(("method", "path"), EVERY_API_CALL)
def test_anonymous_calls_are_refused_with_401(anon, method, path):
    response = getattr(anon, method)(path, {}, format="json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("path", ["/api/schema", "/api/schema/swagger/", "/api/schema/redoc/", "/healthz"])
def test_the_documentation_and_health_check_need_no_login(anon, path):
    assert anon.get(path).status_code == 200


def test_a_wrong_token_is_refused(anon):
    anon.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    assert anon.get("/api/exercises").status_code == 401


@pytest.mark.parametrize(("method", "path"), STAFF_ONLY)
def test_service_clients_cannot_touch_users_exercises_or_stored_errors(api, method, path):
    response = getattr(api, method)(path, {}, format="json")

    assert response.status_code == 403


def test_service_clients_report_errors_read_exercises_and_get_recommendations(api, user, make_exercise):
    exercise = make_exercise()
    error = {"user_id": str(user.pk), "errorCategory": 1, "errorSubCategory": 3}

    assert api.post("/api/errors", error, format="json").status_code == 201
    assert api.post("/api/error-events", error, format="json").status_code == 202
    assert api.get("/api/generate-exercise", {"user_id": user.pk}).status_code == 200
    assert api.get("/api/exercises").json()["count"] == 1
    assert api.get(f"/api/exercises/{exercise.pk}").status_code == 200


def test_staff_with_a_session_use_the_api(admin_client, user):
    assert admin_client.get("/api/users").json()["count"] == 1
    assert admin_client.get(f"/api/users/{user.pk}").status_code == 200


def test_a_deleted_key_stops_working_once_its_cache_entry_expires(anon, settings):
    from django.contrib.auth import get_user_model

    settings.TOKEN_CACHE_SECONDS = 0
    api_key, key = api_keys.create(client=get_user_model().objects.create_user("temporary"), name="temporary")
    anon.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert anon.get("/api/exercises").status_code == 200

    api_key.delete()

    assert anon.get("/api/exercises").status_code == 401


def test_a_client_over_its_rate_gets_429_with_retry_after(api, settings, user):
    # Per hour, so that the four requests cannot straddle the start of a new window.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"client": "3/hour"}}

    statuses = [api.get("/api/generate-exercise", {"user_id": user.pk}).status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    response = api.get("/api/generate-exercise", {"user_id": user.pk})
    assert 0 < int(response["Retry-After"]) <= 3600
    assert "throttled" in response.json()["detail"]


def test_an_unknown_api_path_is_a_json_404(api):
    response = api.get("/api/no-such-thing")

    assert response.status_code == 404
    assert response.json() == {"error": "Not found", "path": "/api/no-such-thing"}


def test_a_server_error_under_api_is_json_without_a_traceback():
    response = server_failed(RequestFactory().get("/api/generate-exercise"))

    assert response.status_code == 500
    assert response.content == b'{"error": "Internal server error"}'


def test_a_form_body_is_refused_with_415_naming_json(staff_api, user):
    response = staff_api.post("/api/errors", {"user_id": str(user.pk), "errorCategory": 1}, format="multipart")

    assert response.status_code == 415
    assert "multipart/form-data" in response.json()["detail"]


def test_a_body_too_large_is_refused_with_json(api, db):
    response = api.post("/api/error-events", b"[" + b" " * 3_000_000 + b"]", content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "at most 2,621,440 bytes" in response.json()["error"]


def test_the_demo_user_answers_for_a_staff_token(staff_api, db):
    from django.core.management import call_command

    call_command("seed_demo", verbosity=0)
    response = staff_api.get("/api/generate-exercise", {"user_id": DEMO_USER_ID, "top_n_errors": 1})

    assert response.status_code == 200
    assert response.json()["top_errors"][0]["errorSubCategory"] == "Mispronounced_Word"
    assert uuid.UUID(response.json()["top_errors"][0]["exercises"][0]["id"])


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "text/html;q=0.9, application/json"])
def test_usual_accept_headers_get_json(api, user, accept):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    response = api.get("/api/generate-exercise", {"user_id": user.pk}, **headers)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["user_id"] == str(user.pk)


def test_an_accept_header_without_json_gets_406(api, user):
    response = api.get("/api/generate-exercise", {"user_id": user.pk}, HTTP_ACCEPT="application/xml")

    assert response.status_code == 406
    assert response.json()["detail"] == (
        "Accept: 'application/xml' cannot be satisfied; this API serves application/json."
    )


def _event(user):
    return {"user_id": str(user.pk), "errorCategory": 1, "errorSubCategory": 3}


def test_events_over_the_rate_get_429_and_are_not_buffered(api, settings, user):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"client": "2/hour"}}

    responses = [api.post("/api/error-events", _event(user), format="json") for _ in range(3)]

    assert [r.status_code for r in responses] == [202, 202, 429]
    assert 0 < int(responses[2]["Retry-After"]) <= 3600
    accepted = {i for r in responses[:2] for i in r.json()["event_ids"]}
    assert {str(e.event_id) for e in buffer.snapshot(user.pk).pending} == accepted


def test_refused_event_requests_count_toward_the_rate(api, settings, user):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"client": "2/hour"}}
    bad = {**_event(user), "errorSubCategory": 99}

    statuses = [
        api.post("/api/error-events", bad, format="json").status_code,
        api.post("/api/error-events", "user_id=x", content_type="text/plain").status_code,
        api.post("/api/error-events", b"{not json", content_type="application/json").status_code,
        api.get("/api/error-events").status_code,
        api.post("/api/error-events", _event(user), format="json").status_code,
    ]

    assert statuses == [400, 415, 429, 429, 429]
    assert buffer.snapshot(user.pk).pending == []


def _with_rates(settings, **rates):
    throttle_rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": throttle_rates}


def test_anonymous_callers_cannot_dodge_their_rate_with_x_forwarded_for(anon, settings):
    _with_rates(settings, client="20/hour")

    statuses = [anon.get("/api/schema/redoc/", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code for n in range(30)]

    assert statuses == [200] * 20 + [429] * 10


def test_behind_a_trusted_proxy_the_address_it_appends_is_the_client(anon, settings):
    _with_rates(settings, client="2/hour")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    def status(forwarded_for: str) -> int:
        return anon.get("/api/schema/redoc/", HTTP_X_FORWARDED_FOR=forwarded_for).status_code

    assert [status(f"198.51.100.{n}, 203.0.113.7") for n in range(3)] == [200, 200, 429]  # the client's own say
    assert status("203.0.113.8") == 200  # another client behind the same proxy


def test_failed_authentications_are_throttled_by_address_whatever_x_forwarded_for_says(anon, settings, staff_api):
    _with_rates(settings, auth_failures="10/hour")

    responses = []
    for n in range(30):
        anon.credentials(HTTP_AUTHORIZATION=f"Token tutor_guess{n}", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
        responses.append(anon.get("/api/exercises"))

    assert [r.status_code for r in responses] == [401] * 10 + [429] * 20
    assert 0 < int(responses[-1]["Retry-After"]) <= 3600
    assert staff_api.get("/api/users", REMOTE_ADDR="192.0.2.1").status_code == 200  # a good key, another address


def test_an_address_over_its_failures_gets_429_before_its_key_is_looked_up(anon, settings, django_assert_num_queries):
    _with_rates(settings, auth_failures="3/hour")
    anon.credentials(HTTP_AUTHORIZATION="Token tutor_not-a-key")
    assert [anon.get("/api/exercises").status_code for _ in range(3)] == [401] * 3

    with django_assert_num_queries(0):
        response = anon.get("/api/exercises")

    assert response.status_code == 429
    anon.credentials(HTTP_AUTHORIZATION="Token")  # malformed: refused before any lookup, counted all the same
    assert anon.get("/api/exercises").status_code == 429
