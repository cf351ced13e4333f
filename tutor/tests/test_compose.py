"""docker-compose.yml cannot run here (no Docker engine), so check what can be checked without one."""

import importlib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = {"migrate", "web", "worker", "beat"}


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_service_is_defined_with_an_image_or_the_app_build():
    services = compose()["services"]

    assert {"postgres", "redis-cache", "redis-buffer", "redis-broker", *APP_SERVICES} <= set(services)
    for name, service in services.items():
        assert "image" in service or service.get("build") == ".", name
    assert (ROOT / "Dockerfile").is_file()


def test_app_services_share_one_definition_and_point_at_existing_code():
    services = compose()["services"]
    shared = services["worker"]["environment"]
    for name in APP_SERVICES:
        assert services[name]["environment"].items() >= shared.items(), name

    command = services["web"]["command"]
    module, attribute = command[-1].split(":")
    assert hasattr(importlib.import_module(module), attribute)
    config = command[command.index("-c") + 1].removeprefix("python:")
    assert importlib.import_module(config).worker_class == "sync"
    for name in ("worker", "beat"):
        command = services[name]["command"]
        app_module = command[command.index("-A") + 1]
        assert importlib.import_module(app_module).celery_app.main == "english_tutor"
    assert (ROOT / services["migrate"]["command"][1]).is_file()


def test_the_event_buffer_never_evicts_and_persists():
    command = " ".join(compose()["services"]["redis-buffer"]["command"])

    assert "--maxmemory-policy noeviction" in command
    assert "--appendonly yes" in command


def test_celery_messages_never_share_the_buffers_redis():
    environment = compose()["x-app"]["environment"]

    assert environment["CELERY_BROKER_URL"].split("/")[2] != environment["EVENT_BUFFER_URL"].split("/")[2]


def test_the_web_health_check_calls_the_health_endpoint(client, db):
    probe = " ".join(compose()["services"]["web"]["healthcheck"]["test"])

    assert "/healthz" in probe
    assert client.get("/healthz").status_code == 200
