"""The local Kubernetes cluster, driven by the official client: it speaks the API the client
expects (paths, Status bodies, watch framing, resourceVersions) and really runs pods."""

from __future__ import annotations

import json
import os
import re
import threading

import pytest
from kubernetes import client, watch
from kubernetes.client import ApiException

from tests.kube.apiserver import FakeCluster

pytestmark = pytest.mark.slow

NS = "default"
TIMESTAMPED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z (.*)$")


def job(name: str, command: list[str], **spec) -> dict:
    container = {"name": "train", "image": "studio", "command": command}
    container.update(spec.pop("container", {}))
    pod_spec = {"restartPolicy": "Never", "containers": [container], **spec.pop("pod", {})}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": {"app": "test"}},
        "spec": {
            "backoffLimit": 0,
            "template": {"metadata": {"labels": {"app": "test"}}, "spec": pod_spec},
            **spec,
        },
    }


def deployment(name: str, command: list[str], image: str = "studio", **container) -> dict:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {"name": "bot", "image": image, "command": command, **container}
                    ],
                    "terminationGracePeriodSeconds": 5,
                },
            },
        },
    }


def status_body(error: ApiException) -> dict:
    return json.loads(error.body)


def job_condition(batch: client.BatchV1Api, name: str, type_: str):
    status = batch.read_namespaced_job(name, NS).status
    return next(
        (c for c in status.conditions or [] if c.type == type_ and c.status == "True"), None
    )


def only_pod(core: client.CoreV1Api, selector: str):
    pods = core.list_namespaced_pod(NS, label_selector=selector).items
    return pods[0] if len(pods) == 1 else None


def test_crud_and_the_status_bodies_of_errors(fake_cluster: FakeCluster, kube_api) -> None:
    core = client.CoreV1Api(kube_api)
    body = {"metadata": {"name": "s1", "labels": {"a": "b"}}, "stringData": {"token": "s3cret"}}
    created = core.create_namespaced_secret(NS, body)
    assert created.data == {"token": "czNjcmV0"} and created.type == "Opaque"
    assert created.metadata.uid and created.metadata.creation_timestamp
    assert int(created.metadata.resource_version) > 0
    read = core.read_namespaced_secret("s1", NS)
    assert read.data == {"token": "czNjcmV0"} and read.string_data is None
    assert fake_cluster.created["Secret"][0]["stringData"] == {"token": "s3cret"}

    with pytest.raises(ApiException) as conflict:
        core.create_namespaced_secret(NS, body)
    assert conflict.value.status == 409
    assert status_body(conflict.value) | {"message": ""} == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "",
        "reason": "AlreadyExists",
        "details": {"name": "s1", "kind": "secrets"},
        "code": 409,
    }

    deleted = core.delete_namespaced_secret("s1", NS)
    assert deleted.status == "Success"
    for call in (core.read_namespaced_secret, core.delete_namespaced_secret):
        with pytest.raises(ApiException) as missing:
            call("s1", NS)
        assert missing.value.status == 404
        assert status_body(missing.value)["reason"] == "NotFound"
        assert status_body(missing.value)["message"] == 'secrets "s1" not found'

    batch = client.BatchV1Api(kube_api)
    with pytest.raises(ApiException) as missing_job:
        batch.read_namespaced_job("nope", NS)
    assert status_body(missing_job.value)["details"] == {
        "name": "nope",
        "group": "batch",
        "kind": "jobs",
    }


def test_invalid_objects_are_refused_with_422(fake_cluster: FakeCluster, kube_api) -> None:
    batch, apps = client.BatchV1Api(kube_api), client.AppsV1Api(kube_api)
    bad = job("bad", ["python", "-c", "1"], container={"bogus": 1})
    with pytest.raises(ApiException) as unknown_field:
        batch.create_namespaced_job(NS, bad)
    assert unknown_field.value.status == 422
    body = status_body(unknown_field.value)
    assert body["reason"] == "Invalid" and body["details"]["kind"] == "Job"
    assert body["message"].startswith('Job.batch "bad" is invalid: ')
    assert "bogus" in body["message"]

    mismatched = deployment("mismatch", ["python", "-c", "1"])
    mismatched["spec"]["selector"]["matchLabels"] = {"app": "other"}
    with pytest.raises(ApiException) as selector:
        apps.create_namespaced_deployment(NS, mismatched)
    assert "`selector` does not match template `labels`" in status_body(selector.value)["message"]

    labelled = job("labelled", ["python", "-c", "1"])
    labelled["metadata"]["labels"] = {"studio/consumer": "has spaces"}
    with pytest.raises(ApiException) as label:
        batch.create_namespaced_job(NS, labelled)
    assert status_body(label.value)["details"]["causes"][0]["field"] == "metadata.labels"
    assert fake_cluster.created["Job"] == [] and fake_cluster.list("jobs") == []


def test_a_wrong_token_gets_401_and_injected_failures_answer_once(
    fake_cluster: FakeCluster, kube_api, kubeconfig
) -> None:
    configuration = client.Configuration()
    configuration.host = fake_cluster.url
    configuration.api_key = {"authorization": "Bearer wrong"}
    with client.ApiClient(configuration) as stranger, pytest.raises(ApiException) as refused:
        client.CoreV1Api(stranger).list_namespaced_secret(NS)
    assert refused.value.status == 401
    assert status_body(refused.value)["reason"] == "Unauthorized"

    core = client.CoreV1Api(kube_api)
    fake_cluster.fail_next("POST", r"/secrets$", 503)
    with pytest.raises(ApiException) as injected:
        core.create_namespaced_secret(NS, {"metadata": {"name": "s"}})
    assert injected.value.status == 503
    assert status_body(injected.value)["reason"] == "ServiceUnavailable"
    assert core.create_namespaced_secret(NS, {"metadata": {"name": "s"}}).metadata.name == "s"


def test_label_and_field_selectors(fake_cluster: FakeCluster, kube_api) -> None:
    core = client.CoreV1Api(kube_api)
    for name, labels in (("one", {"tier": "a", "x": "1"}), ("two", {"tier": "b"}), ("three", {})):
        core.create_namespaced_secret(NS, {"metadata": {"name": name, "labels": labels}})

    def names(**selectors) -> list[str]:
        listed = core.list_namespaced_secret(NS, **selectors)
        assert int(listed.metadata.resource_version) >= 1
        return sorted(item.metadata.name for item in listed.items)

    assert names(label_selector="tier=a") == ["one"]
    assert names(label_selector="tier==a,x=1") == ["one"]
    assert names(label_selector="tier!=a") == ["three", "two"]
    assert names(label_selector="tier") == ["one", "two"]
    assert names(label_selector="!tier") == ["three"]
    assert names(label_selector="tier in (a,b),!x") == ["two"]
    assert names(field_selector="metadata.name=two") == ["two"]
    assert names(field_selector="metadata.name!=two", label_selector="tier") == ["one"]
    with pytest.raises(ApiException) as bad:
        names(field_selector="spec.nope=1")
    assert bad.value.status == 400


def test_watch_replays_then_streams_and_expires_after_compaction(
    fake_cluster: FakeCluster, kube_api
) -> None:
    core = client.CoreV1Api(kube_api)
    first = core.create_namespaced_secret(NS, {"metadata": {"name": "w1", "labels": {"w": "y"}}})
    since = first.metadata.resource_version
    core.create_namespaced_secret(NS, {"metadata": {"name": "w2", "labels": {"w": "y"}}})
    core.create_namespaced_secret(NS, {"metadata": {"name": "other"}})

    seen = []
    watcher = watch.Watch()
    for event in watcher.stream(
        core.list_namespaced_secret,
        NS,
        label_selector="w=y",
        resource_version=since,
        timeout_seconds=10,
    ):
        seen.append((event["type"], event["object"].metadata.name))
        if len(seen) == 1:  # replayed; what follows happens while the watch is open
            core.create_namespaced_secret(NS, {"metadata": {"name": "w3", "labels": {"w": "y"}}})
            core.delete_namespaced_secret("w2", NS)
        if len(seen) == 3:
            watcher.stop()
    assert seen == [("ADDED", "w2"), ("ADDED", "w3"), ("DELETED", "w2")]
    assert int(watcher.resource_version) > int(since)

    initial = [
        (e["type"], e["object"].metadata.name)
        for e in watch.Watch().stream(
            core.list_namespaced_secret, NS, field_selector="metadata.name=w1", timeout_seconds=1
        )
    ]
    assert initial == [("ADDED", "w1")]

    connected, ended = threading.Event(), threading.Event()

    def running_watch() -> None:
        for _ in watch.Watch().stream(
            core.list_namespaced_secret,
            NS,
            resource_version=watcher.resource_version,
            timeout_seconds=30,
        ):
            connected.set()
        ended.set()

    thread = threading.Thread(target=running_watch, daemon=True)
    thread.start()
    core.create_namespaced_secret(NS, {"metadata": {"name": "w4"}})
    assert connected.wait(10)
    fake_cluster.compact()
    assert ended.wait(10), "a running watch ends when the history is compacted"

    with pytest.raises(ApiException) as expired:
        for _ in watch.Watch().stream(
            core.list_namespaced_secret, NS, resource_version=since, timeout_seconds=5
        ):
            pass
    assert expired.value.status == 410
    assert "Expired" in expired.value.reason
    with pytest.raises(ApiException) as expired_again:  # without a timeout the client retries once
        for _ in watch.Watch().stream(core.list_namespaced_secret, NS, resource_version=since):
            pass
    assert expired_again.value.status == 410


def test_a_job_runs_to_completion_and_its_log_has_timestamps(
    fake_cluster: FakeCluster, kube_api
) -> None:
    batch, core = client.BatchV1Api(kube_api), client.CoreV1Api(kube_api)
    batch.create_namespaced_job(
        NS, job("hello", ["python", "-c", "print('hi')"], activeDeadlineSeconds=600)
    )
    fake_cluster.wait_for(
        lambda: job_condition(batch, "hello", "Complete"), what="the job to complete"
    )
    status = batch.read_namespaced_job("hello", NS).status
    assert (
        status.succeeded == 1 and not status.failed and status.start_time and status.completion_time
    )

    pod = only_pod(core, "job-name=hello")
    assert pod.metadata.labels["app"] == "test"
    assert pod.metadata.owner_references[0].kind == "Job"
    assert pod.metadata.name.startswith("hello-")
    assert pod.status.phase == "Succeeded"
    terminated = pod.status.container_statuses[0].state.terminated
    assert terminated.exit_code == 0 and terminated.reason == "Completed"

    text = core.read_namespaced_pod_log(pod.metadata.name, NS, container="train", timestamps=True)
    lines = text.splitlines()
    assert len(lines) == 1 and TIMESTAMPED.match(lines[0]).group(2) == "hi"
    assert core.read_namespaced_pod_log(pod.metadata.name, NS, container="train") == "hi\n"
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_pod_log("nope", NS, container="train")
    assert missing.value.status == 404


def test_following_a_log_streams_until_the_container_ends(
    fake_cluster: FakeCluster, kube_api
) -> None:
    batch, core = client.BatchV1Api(kube_api), client.CoreV1Api(kube_api)
    script = (
        "import time\nfor i in range(3):\n    print('line', i, flush=True)\n    time.sleep(0.3)"
    )
    batch.create_namespaced_job(NS, job("follow", ["python", "-c", script]))
    pod = fake_cluster.wait_for(
        lambda: (
            (p := only_pod(core, "job-name=follow"))
            and p.status.container_statuses
            and p.status.container_statuses[0].state.running
            and p
        ),
        what="the container to run",
    )
    lines = list(
        watch.Watch().stream(
            core.read_namespaced_pod_log, pod.metadata.name, NS, container="train", timestamps=True
        )
    )
    assert [TIMESTAMPED.match(line).group(2) for line in lines] == ["line 0", "line 1", "line 2"]

    # The client has no sinceTime parameter (the runner's reconnection passes it as a query).
    since = TIMESTAMPED.match(lines[1]).group(0).split(" ")[0]
    response = kube_api.call_api(
        f"/api/v1/namespaces/{NS}/pods/{pod.metadata.name}/log",
        "GET",
        query_params=[("container", "train"), ("timestamps", "true"), ("sinceTime", since)],
        auth_settings=["BearerToken"],
        _preload_content=False,
        _return_http_data_only=True,
    )
    assert response.data.decode().splitlines() == lines[1:]
    assert job_condition(batch, "follow", "Complete") or fake_cluster.wait_for(
        lambda: job_condition(batch, "follow", "Complete")
    )


def test_a_container_that_has_not_started_has_no_log(fake_cluster: FakeCluster, kube_api) -> None:
    batch, core = client.BatchV1Api(kube_api), client.CoreV1Api(kube_api)
    slow_init = {
        "initContainers": [
            {
                "name": "fetch",
                "image": "studio",
                "command": ["python", "-c", "import time; time.sleep(30)"],
            }
        ]
    }
    batch.create_namespaced_job(NS, job("waits", ["python", "-c", "1"], pod=slow_init))
    pod = fake_cluster.wait_for(
        lambda: (
            (p := only_pod(core, "job-name=waits"))
            and p.status.init_container_statuses
            and p.status.init_container_statuses[0].state.running
            and p
        ),
        what="the init container to run",
    )
    assert pod.status.phase == "Pending"
    assert pod.status.container_statuses[0].state.waiting.reason == "PodInitializing"
    with pytest.raises(ApiException) as waiting:
        core.read_namespaced_pod_log(pod.metadata.name, NS, container="train")
    assert waiting.value.status == 400
    assert status_body(waiting.value)["message"] == (
        f'container "train" in pod "{pod.metadata.name}" is waiting to start: PodInitializing'
    )
    initialized = next(c for c in pod.status.conditions if c.type == "Initialized")
    assert initialized.status == "False" and initialized.reason == "ContainersNotInitialized"


def test_a_failing_job_and_one_past_its_deadline(fake_cluster: FakeCluster, kube_api) -> None:
    batch, core = client.BatchV1Api(kube_api), client.CoreV1Api(kube_api)
    batch.create_namespaced_job(
        NS, job("fails", ["python", "-c", "import sys; print('oops'); sys.exit(3)"])
    )
    batch.create_namespaced_job(
        NS, job("late", ["python", "-c", "import time; time.sleep(60)"], activeDeadlineSeconds=5)
    )  # 0.5 s at the fixture's scale

    failed = fake_cluster.wait_for(
        lambda: job_condition(batch, "fails", "Failed"), what="the job to fail"
    )
    assert failed.reason == "BackoffLimitExceeded"
    assert batch.read_namespaced_job("fails", NS).status.failed == 1
    pod = only_pod(core, "job-name=fails")
    assert pod.status.phase == "Failed"
    terminated = pod.status.container_statuses[0].state.terminated
    assert terminated.exit_code == 3 and terminated.reason == "Error"

    late = fake_cluster.wait_for(
        lambda: job_condition(batch, "late", "Failed"), what="the deadline"
    )
    assert late.reason == "DeadlineExceeded"
    fake_cluster.wait_for(
        lambda: not core.list_namespaced_pod(NS, label_selector="job-name=late").items,
        what="the late job's pod to be deleted",
    )


def test_a_failing_init_container_fails_the_pod(fake_cluster: FakeCluster, kube_api) -> None:
    batch, core = client.BatchV1Api(kube_api), client.CoreV1Api(kube_api)
    bad_init = {
        "initContainers": [
            {"name": "fetch", "image": "studio", "command": ["python", "-c", "raise SystemExit(2)"]}
        ]
    }
    batch.create_namespaced_job(NS, job("badinit", ["python", "-c", "1"], pod=bad_init))
    fake_cluster.wait_for(lambda: job_condition(batch, "badinit", "Failed"), what="the job to fail")
    pod = only_pod(core, "job-name=badinit")
    assert pod.status.phase == "Failed"
    assert pod.status.init_container_statuses[0].state.terminated.exit_code == 2
    assert pod.status.container_statuses[0].state.waiting.reason == "PodInitializing"


def test_secrets_reach_the_process_as_files_and_variables_with_mount_paths_rewritten(
    fake_cluster: FakeCluster, kube_api
) -> None:
    batch, core = client.BatchV1Api(kube_api), client.CoreV1Api(kube_api)
    core.create_namespaced_secret(
        NS,
        {"metadata": {"name": "cfg"}, "stringData": {"TOKEN": "s3cret", "endpoints.yml": "a: 1\n"}},
    )
    script = (
        "import os, sys\n"
        "print('token', os.environ['TOKEN'], os.environ['FROM_ENV_FROM'], sys.argv[1])\n"
        "print('file', open('/studio/config/endpoints.yml').read().strip())\n"
        "print('listing', sorted(os.listdir('/studio')))\n"
        "print('cwd', os.path.dirname(os.getcwd()) == os.path.dirname(os.environ['HOME']))\n"
        "print('leaked', 'STUDIO_SECRET_OF_THE_TESTS' in os.environ, '/stu' + 'dio' in os.getcwd())\n"
    )
    container = {
        "workingDir": "/studio/project",
        "args": ["$(TOKEN)"],
        "env": [
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "cfg", "key": "TOKEN"}}},
            {"name": "HOME", "value": "/studio/home"},
        ],
        "envFrom": [{"secretRef": {"name": "cfg"}, "prefix": "FROM_ENV_"}],
        "volumeMounts": [
            {"name": "work", "mountPath": "/studio"},
            {"name": "config", "mountPath": "/studio/config", "readOnly": True},
        ],
    }
    container["envFrom"][0]["prefix"] = "FROM_ENV_"
    container["env"].append({"name": "FROM_ENV_FROM", "value": "$(FROM_ENV_TOKEN)!"})
    volumes = {
        "volumes": [
            {"name": "work", "emptyDir": {}},
            {
                "name": "config",
                "secret": {
                    "secretName": "cfg",
                    "items": [{"key": "endpoints.yml", "path": "endpoints.yml"}],
                },
            },
        ]
    }
    os.environ["STUDIO_SECRET_OF_THE_TESTS"] = "1"
    try:
        batch.create_namespaced_job(
            NS, job("secrets", ["python", "-c", script], container=container, pod=volumes)
        )
        fake_cluster.wait_for(
            lambda: (
                job_condition(batch, "secrets", "Complete")
                or job_condition(batch, "secrets", "Failed")
            ),
            what="the job to end",
        )
    finally:
        del os.environ["STUDIO_SECRET_OF_THE_TESTS"]
    pod = only_pod(core, "job-name=secrets")
    output = core.read_namespaced_pod_log(pod.metadata.name, NS, container="train").splitlines()
    assert output == [
        "token s3cret s3cret! s3cret",
        "file a: 1",
        "listing ['config', 'project']",
        "cwd True",
        "leaked False False",
    ]


def test_a_missing_secret_is_a_create_container_config_error(
    fake_cluster: FakeCluster, kube_api
) -> None:
    batch, core = client.BatchV1Api(kube_api), client.CoreV1Api(kube_api)
    container = {
        "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "x"}}}]
    }
    batch.create_namespaced_job(NS, job("nosecret", ["python", "-c", "1"], container=container))
    waiting = fake_cluster.wait_for(
        lambda: (
            (p := only_pod(core, "job-name=nosecret"))
            and p.status.container_statuses
            and p.status.container_statuses[0].state.waiting
            and p.status.container_statuses[0].state.waiting.reason == "CreateContainerConfigError"
            and p.status.container_statuses[0].state.waiting
        ),
        what="CreateContainerConfigError",
    )
    assert waiting.message == 'secret "absent" not found'


def test_a_deployment_is_ready_when_its_exec_probe_passes(
    fake_cluster: FakeCluster, kube_api
) -> None:
    apps, core = client.AppsV1Api(kube_api), client.CoreV1Api(kube_api)
    serve = "import os, pathlib, time\nprint(os.getpid(), flush=True)\ntime.sleep(0.5)\npathlib.Path('/work/ready').touch()\ntime.sleep(60)"
    probe = {
        "exec": {
            "command": [
                "python",
                "-c",
                "import os, sys; sys.exit(0 if os.path.exists('/work/ready') else 1)",
            ]
        },
        "periodSeconds": 1,
    }
    ready = deployment(
        "ready",
        ["python", "-c", serve],
        readinessProbe=probe,
        volumeMounts=[{"name": "work", "mountPath": "/work"}],
    )
    ready["spec"]["template"]["spec"]["volumes"] = [{"name": "work", "emptyDir": {}}]
    apps.create_namespaced_deployment(NS, ready)
    never = deployment(
        "never",
        ["python", "-c", "import time; time.sleep(60)"],
        readinessProbe={
            "exec": {"command": ["python", "-c", "print('not yet'); raise SystemExit(1)"]},
            "periodSeconds": 1,
            "failureThreshold": 1,
        },
    )
    apps.create_namespaced_deployment(NS, never)

    fake_cluster.wait_for(
        lambda: apps.read_namespaced_deployment("ready", NS).status.ready_replicas == 1,
        what="the deployment to be ready",
    )
    status = apps.read_namespaced_deployment("ready", NS).status
    assert status.available_replicas == 1
    assert {c.type: c.status for c in status.conditions}["Available"] == "True"
    pod = only_pod(core, "app=ready")
    assert pod.metadata.labels["pod-template-hash"]
    assert pod.status.phase == "Running" and pod.status.pod_ip == "127.0.0.1"
    assert pod.status.container_statuses[0].ready is True

    unready = fake_cluster.wait_for(
        lambda: (
            (p := only_pod(core, "app=never"))
            and next(
                (
                    c
                    for c in p.status.conditions or []
                    if c.type == "Ready" and "not yet" in (c.message or "")
                ),
                None,
            )
        ),
        what="the failing probe's message",
    )
    assert unready.status == "False" and unready.reason == "ContainersNotReady"
    assert apps.read_namespaced_deployment("never", NS).status.ready_replicas is None

    pid = int(core.read_namespaced_pod_log(pod.metadata.name, NS, container="bot").split()[0])
    apps.delete_namespaced_deployment("ready", NS, propagation_policy="Background")
    fake_cluster.wait_for(
        lambda: not core.list_namespaced_pod(NS, label_selector="app=ready").items,
        what="the deployment's pod to go",
    )
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_an_unknown_image_is_image_pull_back_off(fake_cluster: FakeCluster, kube_api) -> None:
    apps, core = client.AppsV1Api(kube_api), client.CoreV1Api(kube_api)
    apps.create_namespaced_deployment(
        NS, deployment("nopull", ["serve"], image="registry.example/nope:1")
    )
    waiting = fake_cluster.wait_for(
        lambda: (
            (p := only_pod(core, "app=nopull"))
            and p.status.container_statuses
            and (w := p.status.container_statuses[0].state.waiting)
            and w.reason == "ImagePullBackOff"
            and w
        ),
        what="ImagePullBackOff",
    )
    assert "registry.example/nope:1" in waiting.message
    pod = only_pod(core, "app=nopull")
    assert pod.status.phase == "Pending"
    assert apps.read_namespaced_deployment("nopull", NS).status.ready_replicas is None


def test_a_deployment_restarts_its_container_and_replaces_a_deleted_pod(
    fake_cluster: FakeCluster, kube_api
) -> None:
    apps, core = client.AppsV1Api(kube_api), client.CoreV1Api(kube_api)
    apps.create_namespaced_deployment(
        NS, deployment("crash", ["python", "-c", "raise SystemExit(1)"])
    )
    status = fake_cluster.wait_for(
        lambda: (
            (p := only_pod(core, "app=crash"))
            and p.status.container_statuses
            and p.status.container_statuses[0].restart_count >= 1
            and p.status.container_statuses[0]
        ),
        what="a restart",
    )
    assert status.last_state.terminated.exit_code == 1
    first = only_pod(core, "app=crash").metadata.name
    deleted = core.delete_namespaced_pod(first, NS)
    assert deleted.metadata.deletion_timestamp is not None
    fake_cluster.wait_for(
        lambda: (
            {
                p.metadata.name
                for p in core.list_namespaced_pod(NS, label_selector="app=crash").items
            }
            - {first}
        ),
        what="a replacement pod",
    )


def test_services_get_a_cluster_ip(fake_cluster: FakeCluster, kube_api) -> None:
    core = client.CoreV1Api(kube_api)
    service = core.create_namespaced_service(
        NS,
        {
            "metadata": {"name": "studio-bot-1-1"},
            "spec": {
                "selector": {"app": "x"},
                "ports": [{"name": "http", "port": 5005, "targetPort": "http"}],
            },
        },
    )
    assert service.spec.type == "ClusterIP" and service.spec.cluster_ip
    assert service.spec.ports[0].protocol == "TCP"
    assert fake_cluster.created["Service"][0]["spec"]["ports"][0]["port"] == 5005
    with pytest.raises(ApiException) as invalid:
        core.create_namespaced_service(
            NS, {"metadata": {"name": "1-starts-with-a-digit"}, "spec": {"ports": [{"port": 1}]}}
        )
    assert invalid.value.status == 422


def test_a_job_shaped_like_the_runners_is_accepted(fake_cluster: FakeCluster, kube_api) -> None:
    """The strict schemas and the server's own rules accept what the contract describes."""
    secure = {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    env = [
        {
            "name": "STUDIO_INPUT_URL",
            "valueFrom": {"secretKeyRef": {"name": "studio-train-7-1", "key": "STUDIO_INPUT_URL"}},
        },
        {"name": "HOME", "value": "/studio/home"},
    ]
    mounts = [{"name": "work", "mountPath": "/studio"}]
    labels = {
        "app.kubernetes.io/managed-by": "studio",
        "app.kubernetes.io/name": "studio-training",
        "studio/job": "7",
        "studio/attempt": "1",
        "studio/consumer": "host-1234",
    }
    body = job(
        "studio-train-7-1",
        ["python", "/studio/pod.py", "train", "--", "python", "-m", "engine", "train"],
        activeDeadlineSeconds=3600,
        ttlSecondsAfterFinished=600,
        container={
            "workingDir": "/studio/project",
            "env": env,
            "volumeMounts": mounts,
            "securityContext": secure,
        },
        pod={
            "automountServiceAccountToken": False,
            "volumes": [{"name": "work", "emptyDir": {}}],
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "initContainers": [
                {
                    "name": "fetch",
                    "image": "studio",
                    "env": env,
                    "volumeMounts": mounts,
                    "securityContext": secure,
                    "command": [
                        "python",
                        "-m",
                        "workers.pod",
                        "fetch",
                        "--into",
                        "/studio/project",
                    ],
                }
            ],
        },
    )
    body["metadata"]["labels"] = body["spec"]["template"]["metadata"]["labels"] = labels
    created = client.BatchV1Api(kube_api).create_namespaced_job(NS, body)
    assert created.spec.template.metadata.labels["job-name"] == "studio-train-7-1"
    assert fake_cluster.created["Job"] == [body]
    deleted = client.BatchV1Api(kube_api).delete_namespaced_job(
        "studio-train-7-1", NS, propagation_policy="Background"
    )
    assert deleted.status == "Success"
