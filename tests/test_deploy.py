"""The deployment files hold what they promise: the image (Dockerfile, .dockerignore), the
kustomize manifests (deploy/base and its overlays, rendered with `kubectl kustomize` and checked
against Kubernetes 1.35's strict schemas), and the single-host deploy/compose.yaml."""

from __future__ import annotations

import base64
import functools
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
README = (ROOT / "README.md").read_text()
KUBERNETES_VERSION = "1.35.0"
RENDERINGS = ["base", "overlays/dev", "overlays/production"]

# Variables read by what Studio runs on rather than by Studio (gunicorn's worker count).
OTHER_PROGRAMS_SETTINGS = {"WEB_CONCURRENCY"}
# What the runner may do, and nothing more: (API group, resource) -> verbs.
RUNNER_RBAC = {
    ("batch", "jobs"): {"get", "list", "watch", "create", "delete"},
    ("apps", "deployments"): {"get", "list", "watch", "create", "delete"},
    ("", "services"): {"get", "list", "create", "delete"},
    ("", "secrets"): {"get", "list", "create", "delete"},
    ("", "pods"): {"get", "list", "watch"},
    ("", "pods/log"): {"get"},
}
WORKLOADS = {"Deployment", "StatefulSet", "Job", "DaemonSet"}
WORKERS = {"studio-orchestrator", "studio-training-consumer", "studio-running-consumer"}


def documented_settings() -> set[str]:
    return set(re.findall(r"^\| `([A-Z0-9_]+)`", README, re.MULTILINE))


def studio_settings() -> set[str]:
    return documented_settings() | OTHER_PROGRAMS_SETTINGS


# --- rendering --------------------------------------------------------------------------------


class Renderer:
    """Renders each kustomization once, from a copy of deploy/ in which the production overlay's
    secrets.env (which operators write, and git ignores) is its example."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        shutil.copytree(DEPLOY, folder, dirs_exist_ok=True)
        production = folder / "overlays/production"
        shutil.copy(production / "secrets.env.example", production / "secrets.env")
        self.rendered: dict[str, tuple[dict[str, Any], ...]] = {}

    def __call__(self, name: str) -> tuple[dict[str, Any], ...]:
        if name not in self.rendered:
            self.rendered[name] = self.render(name)
        return self.rendered[name]

    def render(self, name: str) -> tuple[dict[str, Any], ...]:
        kubectl = shutil.which("kubectl")
        if kubectl is None:
            pytest.skip("kubectl is not installed")
        done = subprocess.run(
            [kubectl, "kustomize", str(self.folder / name)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"kubectl kustomize {name} failed: {done.stderr}"
        return tuple(obj for obj in yaml.safe_load_all(done.stdout) if obj)


@pytest.fixture(scope="module")
def render(tmp_path_factory: pytest.TempPathFactory) -> Renderer:
    return Renderer(tmp_path_factory.mktemp("deploy"))


def of_kind(objects: tuple[dict[str, Any], ...], *kinds: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] in kinds]


def named(objects: tuple[dict[str, Any], ...], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in of_kind(objects, kind) if o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def containers(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [("initContainers", c) for c in spec.get("initContainers", [])] + [
        ("containers", c) for c in spec["containers"]
    ]


def web_image(objects: tuple[dict[str, Any], ...]) -> str:
    web = pod_spec(named(objects, "Deployment", "studio-web"))
    return next(c["image"] for c in web["containers"] if c["name"] == "web")


def studio_containers(objects: tuple[dict[str, Any], ...]):
    """(workload, container) for every container that runs Studio's image."""
    image = web_image(objects)
    for workload in of_kind(objects, *WORKLOADS):
        for _, container in containers(pod_spec(workload)):
            if container["image"] == image:
                yield workload, container


def generated(objects: tuple[dict[str, Any], ...], kind: str, name: str) -> dict[str, Any]:
    """The ConfigMap or Secret that a generator named `name` made (its name has a hash)."""
    found = [
        o
        for o in of_kind(objects, kind)
        if re.fullmatch(rf"{name}(-[a-z0-9]+)?", o["metadata"]["name"])
    ]
    assert len(found) == 1, (
        f"expected one {kind} {name}, found {[o['metadata']['name'] for o in found]}"
    )
    return found[0]


def settings_of(objects: tuple[dict[str, Any], ...]) -> dict[str, str]:
    return generated(objects, "ConfigMap", "studio-settings")["data"]


# --- every rendering ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", RENDERINGS)
def test_every_object_is_valid_for_kubernetes_1_35(render, name):
    objects = render(name)
    assert len(objects) > 10
    errors = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{obj['kind']} {obj['metadata']['name']}: {exc.message}")
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("name", RENDERINGS)
def test_every_container_has_probes_resources_and_a_restricted_security_context(render, name):
    problems = []
    for workload in of_kind(render(name), *WORKLOADS):
        spec = pod_spec(workload)
        pod_security = spec.get("securityContext", {})
        for field, container in containers(spec):
            where = f"{workload['kind']} {workload['metadata']['name']} {container['name']}"
            # Jobs' containers run to completion; init containers may not have probes at all.
            if workload["kind"] != "Job" and field == "containers":
                for probe in ("readinessProbe", "livenessProbe"):
                    if probe not in container:
                        problems.append(f"{where}: no {probe}")
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                if set(resources.get(bound, {})) < {"cpu", "memory"}:
                    problems.append(f"{where}: no cpu and memory {bound}")
            security = {**pod_security, **container.get("securityContext", {})}
            if security.get("runAsNonRoot") is not True:
                problems.append(f"{where}: not runAsNonRoot")
            if security.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: privilege escalation allowed")
            if "ALL" not in security.get("capabilities", {}).get("drop", []):
                problems.append(f"{where}: capabilities not all dropped")
            if security.get("seccompProfile", {}).get("type") != "RuntimeDefault":
                problems.append(f"{where}: no RuntimeDefault seccomp profile")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", RENDERINGS)
def test_studio_containers_have_a_read_only_root_and_writable_scratch_folders(render, name):
    objects = render(name)
    checked = 0
    for workload, container in studio_containers(objects):
        checked += 1
        where = f"{workload['metadata']['name']} {container['name']}"
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, where
        volumes = {v["name"]: v for v in pod_spec(workload)["volumes"]}
        mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
        for path in ("/tmp", "/app/var"):
            assert "emptyDir" in mounts.get(path, {}), f"{where}: {path} is not an emptyDir"
    assert checked >= 7


@pytest.mark.parametrize("name", RENDERINGS)
def test_only_cluster_free_rbac_the_runner_needs(render, name):
    objects = render(name)
    assert not of_kind(objects, "ClusterRole", "ClusterRoleBinding")
    (role,) = of_kind(objects, "Role")
    granted: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}, rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.setdefault((group, resource), set()).update(rule["verbs"])
    assert granted == RUNNER_RBAC


@pytest.mark.parametrize("name", RENDERINGS)
def test_only_the_workers_service_account_is_bound_and_only_workers_use_it(render, name):
    objects = render(name)
    (binding,) = of_kind(objects, "RoleBinding")
    role = of_kind(objects, "Role")[0]["metadata"]["name"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role,
    }
    assert [(s["kind"], s["name"]) for s in binding["subjects"]] == [
        ("ServiceAccount", "studio-workers")
    ]
    for workload in of_kind(objects, *WORKLOADS):
        spec, workload_name = pod_spec(workload), workload["metadata"]["name"]
        if workload_name in WORKERS:
            assert spec["serviceAccountName"] == "studio-workers", workload_name
        else:
            assert spec.get("serviceAccountName") != "studio-workers", workload_name
            assert spec.get("automountServiceAccountToken") is False, (
                f"{workload_name} mounts a token"
            )
    accounts = {a["metadata"]["name"]: a for a in of_kind(objects, "ServiceAccount")}
    assert (
        accounts[settings_of(objects)["STUDIO_KUBERNETES_SERVICE_ACCOUNT"]].get(
            "automountServiceAccountToken"
        )
        is False
    )


@pytest.mark.parametrize("name", RENDERINGS)
def test_the_processes_run_as_the_contract_says(render, name):
    objects = render(name)
    orchestrator = named(objects, "Deployment", "studio-orchestrator")
    assert orchestrator["spec"]["replicas"] == 1
    assert orchestrator["spec"]["strategy"] == {"type": "Recreate"}
    commands = {
        w["metadata"]["name"]: c["args"] for w, c in studio_containers(objects) if "args" in c
    }
    assert commands["studio-migrate"] == ["python", "manage.py", "migrate", "--noinput"]
    assert commands["studio-web"][:4] == [
        "gunicorn",
        "studio.wsgi:application",
        "--bind",
        "0.0.0.0:8000",
    ]
    assert commands["studio-orchestrator"] == ["python", "manage.py", "orchestrate"]
    for worker, command in [
        ("studio-training-consumer", "training_consumer"),
        ("studio-running-consumer", "running_consumer"),
        ("studio-ingester", "ingest"),
    ]:
        assert commands[worker][:3] == ["python", "manage.py", command]
        assert commands[worker][-2:] == ["--liveness-file", "/tmp/alive"]
    assert commands["studio-ingester"][3:5] == ["--source", "kafka"]
    for workload in of_kind(objects, "Deployment", "StatefulSet"):
        if workload["metadata"]["name"].startswith("studio-"):
            init = [c["name"] for c in pod_spec(workload).get("initContainers", [])]
            assert init == ["wait-for-migrations"], workload["metadata"]["name"]


@pytest.mark.parametrize("name", RENDERINGS)
def test_worker_probes_check_the_liveness_file_and_the_web_probes_healthz(render, name):
    objects = render(name)
    for worker in ("studio-training-consumer", "studio-running-consumer", "studio-ingester"):
        kind = "StatefulSet" if worker == "studio-ingester" else "Deployment"
        container = pod_spec(named(objects, kind, worker))["containers"][0]
        for probe in ("readinessProbe", "livenessProbe"):
            command = " ".join(container[probe]["exec"]["command"])
            assert "find /tmp/alive -mmin -2" in command and "test -n" in command, worker
    web = pod_spec(named(objects, "Deployment", "studio-web"))["containers"][0]
    allowed_hosts = settings_of(objects)["ALLOWED_HOSTS"].split(",")
    for probe in ("readinessProbe", "livenessProbe"):
        check = web[probe]["httpGet"]
        assert check["path"] == "/healthz"
        # Django answers 400 to a Host it does not know (the kubelet would send the pod's IP).
        (host,) = [h["value"] for h in check["httpHeaders"] if h["name"] == "Host"]
        assert host in allowed_hosts


@pytest.mark.parametrize("name", RENDERINGS)
def test_pods_reach_the_web_at_a_service_that_exists_and_the_runner_uses_the_web_image(
    render, name
):
    objects = render(name)
    settings = settings_of(objects)
    assert settings["STUDIO_RUNNER"] == "kubernetes"
    assert settings["STUDIO_KUBERNETES_IMAGE"] == web_image(objects)
    url = re.fullmatch(r"http://([a-z0-9-]+):(\d+)", settings["STUDIO_KUBERNETES_WEB_URL"])
    assert url, settings["STUDIO_KUBERNETES_WEB_URL"]
    service = named(objects, "Service", url[1])
    assert int(url[2]) in [p["port"] for p in service["spec"]["ports"]]
    assert service["spec"]["selector"].items() <= pod_spec_labels(
        named(objects, "Deployment", "studio-web")
    )
    assert url[1] in settings["ALLOWED_HOSTS"].split(",")


def pod_spec_labels(workload: dict[str, Any]):
    return workload["spec"]["template"]["metadata"]["labels"].items()


@pytest.mark.parametrize("name", RENDERINGS)
def test_every_variable_set_for_studio_is_a_setting_studio_reads(render, name):
    objects = render(name)
    known, unknown = studio_settings(), set()
    for _, container in studio_containers(objects):
        unknown |= {e["name"] for e in container.get("env", [])} - known
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                found = named(objects, "ConfigMap", source["configMapRef"]["name"])["data"]
            else:
                secrets = of_kind(objects, "Secret")
                found = next(
                    (
                        s.get("data", {})
                        for s in secrets
                        if s["metadata"]["name"] == source["secretRef"]["name"]
                    ),
                    {},
                )
            unknown |= set(found) - known
    assert not unknown, f"not Studio settings: {sorted(unknown)}"


@pytest.mark.parametrize("name", RENDERINGS)
def test_none_of_these_objects_looks_like_one_the_runner_created(render, name):
    # The orchestrator reconciles (and deletes) what carries the runner's label.
    for obj in render(name):
        for labels in (
            obj["metadata"].get("labels", {}),
            obj.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {}),
        ):
            assert labels.get("app.kubernetes.io/managed-by") != "studio", obj["metadata"]["name"]


@pytest.mark.parametrize("name", RENDERINGS)
def test_ingress_is_denied_but_to_the_web_and_from_the_web_to_bots(render, name):
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(render(name), "NetworkPolicy")}
    assert policies["default-deny-ingress"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    bots = policies["studio-bots"]
    assert bots["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "studio-bot"}}
    (rule,) = bots["ingress"]
    (source,) = rule["from"]
    assert source["podSelector"]["matchExpressions"] == [
        {"key": "app.kubernetes.io/name", "operator": "In", "values": ["studio"]},
        {
            "key": "app.kubernetes.io/component",
            "operator": "In",
            "values": ["web", "running-consumer"],
        },
    ]
    web = policies["studio-web"]
    pods = [s["podSelector"] for s in web["ingress"][0]["from"] if "podSelector" in s]
    assert pods == [
        {
            "matchExpressions": [
                {
                    "key": "app.kubernetes.io/name",
                    "operator": "In",
                    "values": ["studio-training", "studio-bot"],
                }
            ]
        }
    ]


@pytest.mark.parametrize("name", RENDERINGS)
def test_the_ingester_is_a_static_group_member_named_after_its_pod(render, name):
    ingester = pod_spec(named(render(name), "StatefulSet", "studio-ingester"))["containers"][0]
    (member,) = [e for e in ingester["env"] if e["name"] == "KAFKA_GROUP_INSTANCE_ID"]
    assert member["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def test_the_base_names_no_namespace(render):
    assert [o["metadata"]["name"] for o in render("base") if "namespace" in o["metadata"]] == []
    assert not of_kind(render("base"), "Namespace")


# --- the overlays ---------------------------------------------------------------------------------

THIRD_PARTY_IMAGES = ("postgres", "kafka", "keycloak")


def images(objects: tuple[dict[str, Any], ...]) -> list[str]:
    return [c["image"] for w in of_kind(objects, *WORKLOADS) for _, c in containers(pod_spec(w))]


def test_production_autoscales_the_web_and_the_training_consumers(render):
    objects = render("overlays/production")
    targets = {
        h["spec"]["scaleTargetRef"]["name"]: h
        for h in of_kind(objects, "HorizontalPodAutoscaler")
        if h["apiVersion"] == "autoscaling/v2"
    }
    assert set(targets) == {"studio-web", "studio-training-consumer"}
    for name, hpa in targets.items():
        # The autoscaler owns the count: an apply must not reset it.
        assert "replicas" not in named(objects, "Deployment", name)["spec"]
        assert hpa["spec"]["minReplicas"] >= 1
    assert targets["studio-web"]["spec"]["minReplicas"] > 2  # more than the base's two


def test_production_runs_no_database_broker_or_identity_provider(render):
    objects = render("overlays/production")
    assert not of_kind(objects, "PersistentVolumeClaim")
    assert not [i for i in images(objects) if any(name in i for name in THIRD_PARTY_IMAGES)]
    settings = settings_of(objects)
    assert settings["KAFKA_BOOTSTRAP_SERVERS"] and settings["OIDC_OP_TOKEN_ENDPOINT"].startswith(
        "https://"
    )
    assert settings["STUDIO_STORAGE_BACKEND"] in {"s3", "gcs", "azure"}  # replicas share a bucket


def test_production_pins_the_image_in_a_registry(render):
    objects = render("overlays/production")
    for image in set(images(objects)):
        registry_and_name, _, tag = image.rpartition(":")
        assert "/" in registry_and_name and tag and tag not in {"latest", "dev"}, image


def test_production_secrets_come_from_the_file_operators_write(render):
    secret = generated(render("overlays/production"), "Secret", "studio-secrets")
    example = (DEPLOY / "overlays/production/secrets.env.example").read_text()
    keys = re.findall(r"^([A-Z0-9_]+)=", example, re.MULTILINE)
    assert set(secret["data"]) == set(keys) and "SECRET_KEY" in keys
    assert set(keys) <= documented_settings()
    assert "secrets.env" in (DEPLOY / "overlays/production/.gitignore").read_text().split()


def test_dev_runs_postgresql_kafka_and_keycloak_with_the_realm(render):
    objects = render("overlays/dev")
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} == {
        "studio-dev"
    }
    for name in ("postgresql", "kafka", "keycloak"):
        statefulset = named(objects, "StatefulSet", name)
        assert statefulset["spec"]["volumeClaimTemplates"], name
        assert pod_spec(statefulset)["securityContext"]["fsGroup"], name
        named(objects, "Service", name)
    keycloak = pod_spec(named(objects, "StatefulSet", "keycloak"))
    assert keycloak["containers"][0]["args"] == ["start-dev", "--import-realm"]
    (realm_volume,) = [v for v in keycloak["volumes"] if "configMap" in v]
    realm = named(objects, "ConfigMap", realm_volume["configMap"]["name"])
    assert realm["data"] == {
        "rasa-studio-realm.json": (DEPLOY / "keycloak/rasa-studio-realm.json").read_text()
    }
    mount = next(
        m for m in keycloak["containers"][0]["volumeMounts"] if m["name"] == realm_volume["name"]
    )
    assert mount["mountPath"] == "/opt/keycloak/data/import"
    settings = settings_of(objects)
    assert settings["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert settings["OIDC_OP_TOKEN_ENDPOINT"].startswith("http://keycloak:8080/realms/rasa-studio/")
    assert "@postgresql:5432/" in secret_value(objects, "studio-secrets", "DATABASE_URL")
    assert web_image(objects) == "studio:dev"


def secret_value(objects, name: str, key: str) -> str:
    return base64.b64decode(generated(objects, "Secret", name)["data"][key]).decode()


# --- the image ------------------------------------------------------------------------------------

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def stages() -> dict[str, str]:
    """Each stage's instructions (continuation lines joined), by stage name."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    found: dict[str, str] = {}
    for block in re.split(r"^(?=FROM )", text, flags=re.MULTILINE)[1:]:
        name = re.match(r"FROM \S+(?: AS (\S+))?", block)
        assert name and name[1], f"unnamed stage: {block.splitlines()[0]}"
        found[name[1]] = block
    return found


def test_the_image_is_built_in_stages_and_runs_studio_as_a_numeric_non_root_user():
    found = stages()
    runtime = found["runtime"]
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in DOCKERFILE
    assert "COPY --from=builder /opt/venv /opt/venv" in runtime
    assert "pip install -r /tmp/requirements.txt" in found["builder"]
    assert "build-essential" not in runtime
    users = re.findall(r"^USER (\S+)", runtime, re.MULTILINE)
    assert users and users[-1] == "10001:10001"
    assert "PYTHONPATH=/app" in runtime and "WORKDIR /app" in runtime
    assert re.search(r"SECRET_KEY=\S+ python manage.py collectstatic --noinput", runtime)
    assert 'CMD ["gunicorn", "studio.wsgi:application", "--bind", "0.0.0.0:8000"' in runtime
    assert "EXPOSE 8000" in runtime


def test_the_actions_target_runs_the_demo_action_server():
    actions = stages()["actions"]
    assert "pip install -r /tmp/requirements-actions.txt" in stages()["actions-builder"]
    assert re.findall(r"^USER (\S+)", actions, re.MULTILINE)[-1] == "10001:10001"
    procfile = (ROOT / "Procfile").read_text()
    command = re.search(r"^actions: \S+ (-m rasa_sdk .*)$", procfile, re.MULTILINE)[1]
    assert (
        f'CMD ["python", {", ".join(f"{a!r}".replace(chr(39), chr(34)) for a in command.split())}]'
        in actions
    )


def test_everything_the_dockerfile_copies_exists_and_is_not_ignored():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".git", ".venv*"} <= ignored
    sources = [
        source
        for line in re.findall(r"^COPY (?!--from)(.+)$", DOCKERFILE, re.MULTILINE)
        for source in line.split()[:-1]
    ]
    assert {
        "apps",
        "engine",
        "studio",
        "workers",
        "templates",
        "static",
        "demo",
        "manage.py",
    } <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), source
        assert source not in ignored and source.split("/")[0] not in ignored, f"{source} is ignored"


# --- compose ------------------------------------------------------------------------------------

COMPOSE_FILE = DEPLOY / "compose.yaml"


@functools.cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def test_compose_runs_every_process_and_the_services_on_one_host():
    services = compose()["services"]
    assert {
        "web",
        "migrate",
        "orchestrator",
        "trainer",
        "runner1",
        "runner2",
        "ingester",
        "postgresql",
        "kafka",
        "keycloak",
        "actions",
    } <= set(services)
    for name, service in services.items():
        if service.get("image", "").startswith("studio:"):
            assert service["environment"]["STUDIO_RUNNER"] == "local", name
            assert service["user"] == "10001:10001" and service["read_only"] is True, name
    assert "--import-realm" in services["keycloak"]["command"]
    kafka = services["kafka"]["environment"]
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper


def test_compose_volumes_and_dependencies_are_consistent():
    document = compose()
    services, declared = document["services"], set(document["volumes"])
    used = set()
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE_FILE.parent / source).exists(), f"{name}: {source}"
            else:
                used.add(source)
        for other, condition in service.get("depends_on", {}).items():
            assert other in services, f"{name} depends on unknown {other}"
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[other], f"{name} waits for {other}'s health"
            if condition["condition"] == "service_completed_successfully":
                assert services[other].get("restart") == "no", f"{other} would never complete"
        mode = service.get("network_mode", "")
        if mode.startswith("service:"):
            assert mode.removeprefix("service:") in service.get("depends_on", {}), name
    assert used == declared, f"undeclared {used - declared}, unused {declared - used}"
    for name in ("web", "orchestrator", "trainer", "runner1", "ingester"):
        assert (
            services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        )


def test_compose_sets_only_studio_settings_and_asks_for_every_secret():
    unknown = set()
    for service in compose()["services"].values():
        if service.get("image", "").startswith("studio:"):
            unknown |= set(service["environment"]) - studio_settings()
    assert not unknown, f"not Studio settings: {sorted(unknown)}"
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", COMPOSE_FILE.read_text()))
    example = (DEPLOY / "compose.env.example").read_text()
    assert required == set(re.findall(r"^([A-Z0-9_]+)=", example, re.MULTILINE))


def test_docker_compose_accepts_the_file():
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker is not installed")
    plugin = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=60)
    if plugin.returncode != 0:
        pytest.skip("docker compose is not installed")
    done = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE_FILE), "config", "--no-interpolate", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
