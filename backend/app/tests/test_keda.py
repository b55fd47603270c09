"""The KEDA examples in deploy/keda/ read the depth where waiting jobs are: jobs submitted
at every priority, with no worker running, grow exactly the Redis lists (priority steps
included) or RabbitMQ queues that the triggers of each worker Deployment's ScaledObject
read, and no job waits anywhere else."""

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import yaml
from fastapi.testclient import TestClient
from kombu import Connection

from app.core.celery_app import MAX_PRIORITY, celery_app, queue_names
from app.core.config import settings
from app.tools.registry import get_tool
from app.worker.task_routes import HOUSEKEEPING_QUEUE, TaskName
from tests.support.broker import send_to
from tests.support.metrics import scrape
from tests.support.paths import REPO_ROOT
from tests.support.rabbitmq import RABBITMQ_PORT, amqp_url, own_vhost, queue_depths
from tests.support.users import auth, make_user

KEDA_DIR = REPO_ROOT / "deploy" / "keda"
# A tool on each queue that the example Deployments serve.
TOOL_ON_QUEUE = {"default": "echo", "heavy": "heavy-echo"}


def manifests(name: str) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all((KEDA_DIR / name).read_text()) if document]


def worker_queues() -> dict[str, str]:
    """Deployment name -> the one queue its workers consume (--queues)."""
    queues = {}
    for deployment in manifests("workers.yaml"):
        assert deployment["kind"] == "Deployment"
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        command = [str(word) for word in container["command"]]
        assert command[:4] == ["celery", "-A", "app.core.celery_app", "worker"], command
        assert "-Q" not in command
        queues[deployment["metadata"]["name"]] = command[command.index("--queues") + 1]
    return queues


def triggers_by_deployment(name: str, kind: str) -> dict[str, list[dict[str, Any]]]:
    """Deployment name -> the triggers of its ScaledObject in file `name`."""
    found = {}
    for scaled_object in manifests(name):
        assert scaled_object["apiVersion"] == "keda.sh/v1alpha1"
        assert scaled_object["kind"] == "ScaledObject"
        spec = scaled_object["spec"]
        triggers = spec["triggers"]
        assert {trigger["type"] for trigger in triggers} == {kind}
        # The CRD types a trigger's metadata as strings: Kubernetes refuses a bare number.
        for trigger in triggers:
            assert all(isinstance(value, str) for value in trigger["metadata"].values())
        found[spec["scaleTargetRef"]["name"]] = triggers
    return found


def test_every_queue_but_housekeeping_has_an_autoscaled_deployment() -> None:
    queues = worker_queues()
    # Each queue its own workers (a queue's depth would not say what a shared worker takes).
    assert len(set(queues.values())) == len(queues)
    assert set(queues.values()) == set(queue_names()) - {HOUSEKEEPING_QUEUE}
    for kind in ("redis", "rabbitmq"):
        scaled = triggers_by_deployment(f"scaledobjects-{kind}.yaml", kind)
        assert set(scaled) == set(queues), kind
    for queue, tool in TOOL_ON_QUEUE.items():
        assert get_tool(tool).queue == queue


def test_the_redis_depth_is_the_sum_of_every_list_of_the_queue() -> None:
    for scaled_object in manifests("scaledobjects-redis.yaml"):
        spec = scaled_object["spec"]
        names = [trigger["name"] for trigger in spec["triggers"]]
        assert len(set(names)) == len(names)
        # KEDA takes the largest of several triggers' replica counts; the formula of the
        # scaling modifier makes one metric of their sum instead.
        modifiers = spec["advanced"]["scalingModifiers"]
        assert modifiers["formula"].replace(" ", "").split("+") == names
        assert modifiers["metricType"] == "AverageValue"


def submit_at_every_priority(client: TestClient) -> dict[str, set[str]]:
    """For each queue, a job at each priority 0..9 (each of an owner with nothing queued,
    so that fair share leaves it as it is); returns the job ids by queue."""
    jobs: dict[str, set[str]] = {queue: set() for queue in TOOL_ON_QUEUE}
    for queue, tool in TOOL_ON_QUEUE.items():
        for priority in range(MAX_PRIORITY + 1):
            owner = auth(make_user(f"keda-{queue}-{priority}@example.com", password=None))
            response = client.post(
                f"{settings.API_V1_STR}/jobs",
                headers=owner,
                json={"tool": tool, "inputs": {"message": "wait"}, "priority": priority},
            )
            assert response.status_code == 202, response.text
            jobs[queue].add(response.json()["id"])
    return jobs


@pytest.fixture
def redis_broker() -> Iterator["redis.Redis[bytes]"]:
    """The suite's Redis broker, left empty; no worker reads it during the test."""
    celery_app.control.purge()
    broker: redis.Redis[bytes] = redis.Redis.from_url(settings.broker_url)
    yield broker
    celery_app.control.purge()


def job_messages(broker: "redis.Redis[bytes]") -> dict[str, list[str]]:
    """Every list of the broker's database -> the ids of the job runs it holds."""
    found = {}
    for key in broker.scan_iter(_type="list"):
        messages = [json.loads(raw) for raw in broker.lrange(key, 0, -1)]
        runs = [m["headers"]["id"] for m in messages if m["headers"]["task"] == TaskName.RUN_JOB]
        if runs:
            found[key.decode()] = runs
    return found


def test_redis_triggers_read_exactly_the_lists_where_jobs_wait(
    client: TestClient, redis_broker: "redis.Redis[bytes]"
) -> None:
    jobs = submit_at_every_priority(client)
    waiting = job_messages(redis_broker)
    queues = worker_queues()
    read = set()
    for deployment, triggers in triggers_by_deployment("scaledobjects-redis.yaml", "redis").items():
        lists = [trigger["metadata"]["listName"] for trigger in triggers]
        read.update(lists)
        queue_jobs = jobs[queues[deployment]]
        grown = {name for name, runs in waiting.items() if queue_jobs & set(runs)}
        assert set(lists) == grown, deployment
        # The lists hold the queue's jobs and only them, each once: the sum is the depth.
        held = Counter(run for name in lists for run in waiting.get(name, []))
        assert held == Counter(queue_jobs), deployment
        assert sum(redis_broker.llen(name) for name in lists) == len(queue_jobs)
        # /metrics shows the same depth.
        depth = scrape(client)[("tooljobs_queue_messages", (("queue", queues[deployment]),))]
        assert depth == len(queue_jobs), deployment
    assert set(waiting) <= read, f"jobs wait in lists no trigger reads: {set(waiting) - read}"


@pytest.fixture
def rabbitmq_broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """A virtual host of its own that this process sends to: (its URL, its name)."""
    with own_vhost("keda") as vhost:
        url = amqp_url(RABBITMQ_PORT, vhost)
        send_to(monkeypatch, url)
        yield url, vhost


def test_rabbitmq_triggers_read_exactly_the_queues_where_jobs_wait(
    client: TestClient, rabbitmq_broker: tuple[str, str]
) -> None:
    url, vhost = rabbitmq_broker
    jobs = submit_at_every_priority(client)
    queues = worker_queues()
    read = set()
    with Connection(url) as connection:
        channel = connection.default_channel
        for deployment, triggers in triggers_by_deployment(
            "scaledobjects-rabbitmq.yaml", "rabbitmq"
        ).items():
            (trigger,) = triggers
            metadata = trigger["metadata"]
            assert (metadata["mode"], metadata["protocol"]) == ("QueueLength", "amqp")
            # The trigger reads the broker the workers read, from their environment.
            assert metadata["hostFromEnv"] == "CELERY_BROKER_URL"
            assert float(metadata["value"]) > 0
            # What KEDA's amqp protocol asks: a passive declare's message count.
            declared = channel.queue_declare(queue=metadata["queueName"], passive=True)
            assert declared.message_count == len(jobs[queues[deployment]]), deployment
            depth = scrape(client)[("tooljobs_queue_messages", (("queue", queues[deployment]),))]
            assert depth == declared.message_count, deployment
            read.add(metadata["queueName"])
    holding = {name for name, count in queue_depths(vhost).items() if count}
    assert holding == read
    assert sum(queue_depths(vhost).values()) == sum(len(ids) for ids in jobs.values())
