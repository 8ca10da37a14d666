"""compose.yaml and the Dockerfile, checked without Docker (not on this machine): structure,
healthchecks, volumes, secrets from env files, every port bound to 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_compose_file_is_complete_and_local_only() -> None:
    spec = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = spec["services"]
    assert {"db", "service", "replay"} <= set(services)
    for name, svc in services.items():
        assert "healthcheck" in svc and svc["healthcheck"]["test"], name
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
        for env in svc.get("env_file", []):
            example = ROOT / f"{env}.example"
            assert example.is_file(), f"{name}: {example} documents {env}"
        for value in (svc.get("environment") or {}).values():
            assert "PASSWORD" not in str(value).upper()
    assert services["db"]["image"].startswith("postgres:")
    assert services["service"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert "/healthz" in " ".join(services["service"]["healthcheck"]["test"])
    assert services["service"]["command"][:2] == ["bewaar", "serve"]
    assert services["replay"]["command"][0] == "wayback"
    # the workers: the task queue in the same PostgreSQL, their own home, the shared storage
    worker, service = services["worker"], services["service"]
    assert worker["command"][:2] == ["bewaar", "worker"]
    assert worker["deploy"]["replicas"] >= 2 and "ports" not in worker
    assert worker["env_file"] == service["env_file"]
    for svc in (worker, service):
        assert svc["environment"]["BEWAAR_TASK_QUEUE"] == "postgres"
    assert worker["environment"]["BEWAAR_STORAGE_URL"] == service["environment"][
        "BEWAAR_STORAGE_URL"]
    assert worker["environment"]["BEWAAR_HOME"] != service["environment"]["BEWAAR_HOME"]
    assert worker["depends_on"]["db"]["condition"] == "service_healthy"
    assert not {"redis", "rabbitmq"} & set(services)  # no broker beside PostgreSQL
    named = set(spec["volumes"])
    used = {v.split(":")[0] for svc in services.values() for v in svc.get("volumes", [])}
    assert used <= named and {"pgdata", "archive"} <= named
    env = (ROOT / "deploy" / "bewaar.env.example").read_text()
    assert "BEWAAR_DATABASE_URL=postgresql://" in env


def test_dockerfile_runs_the_service_unprivileged() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "USER bewaar" in text and 'CMD ["bewaar", "serve"' in text
    assert "-c constraints.txt" in text
