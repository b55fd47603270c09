"""Application settings, read from the environment and the repository's `.env`."""

import json
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BeforeValidator,
    EmailStr,
    Field,
    IPvAnyNetwork,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# backend/app/app/core/config.py -> the repository root holds `.env`; in a container the
# file is absent and compose passes the variables instead.
_REPO_ENV_FILE = Path(__file__).resolve().parents[4] / ".env"

DEFAULT_SECRET = "changethis"


def _comma_list(value: object) -> object:
    """A list as JSON or, more simply, separated by commas."""
    if isinstance(value, str):
        if value.lstrip().startswith("["):
            return json.loads(value)
        return [origin.strip() for origin in value.split(",") if origin.strip()]
    return value


def _storage_url(value: str | None) -> str | None:
    """file:///absolute/path or s3://bucket[/prefix], refused at start otherwise."""
    if value is None:
        return value
    url = urlsplit(value)
    if url.scheme == "file" and url.path.startswith("/") and not url.netloc:
        return value
    if url.scheme == "s3" and url.netloc and not url.query and not url.fragment:
        return value
    raise ValueError("STORAGE_URL must be file:///absolute/path or s3://bucket/prefix")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=_REPO_ENV_FILE, env_ignore_empty=True, extra="ignore"
    )

    PROJECT_NAME: str = "tooljobs"
    API_V1_STR: str = "/api/v1"
    ENVIRONMENT: Literal["local", "staging", "production"] = "local"

    SECRET_KEY: str
    ACCESS_TOKEN_EXPIRE_MINUTES: int = Field(default=60 * 24 * 8, ge=1)

    # Browser origins (scheme://host[:port]) whose pages may call the API (CORS); none by
    # default. The placeholder page needs none: it only links to the API.
    BACKEND_CORS_ORIGINS: Annotated[list[AnyHttpUrl], NoDecode, BeforeValidator(_comma_list)] = []

    # Either one DATABASE_URL or the POSTGRES_* parts (as in the full-stack template).
    DATABASE_URL: str | None = None
    POSTGRES_SERVER: str = "localhost"
    POSTGRES_PORT: int = 5432
    POSTGRES_USER: str = "postgres"
    POSTGRES_PASSWORD: str = ""
    POSTGRES_DB: str = "tooljobs"

    # Connections each process keeps (an API process runs sync endpoints on up to 40
    # threads); size PostgreSQL's max_connections for every process of every service.
    DATABASE_POOL_SIZE: int = Field(default=20, ge=1)
    DATABASE_MAX_OVERFLOW: int = Field(default=20, ge=0)
    # Every SQL statement with its duration in the log, to see what a request issues.
    LOG_SQL: bool = False
    # Log lines on stderr: JSON, one event a line (`json`), or for a person to read
    # (`console`); `auto` is console with ENVIRONMENT=local or on a terminal, else JSON.
    LOG_FORMAT: Literal["auto", "json", "console"] = "auto"
    # The level of the API's own lines; worker and beat take celery's --loglevel.
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    REDIS_URL: str = "redis://localhost:6379/0"
    CELERY_BROKER_URL: str | None = None

    FIRST_SUPERUSER: EmailStr = "admin@example.com"
    FIRST_SUPERUSER_PASSWORD: str = DEFAULT_SECRET

    MOCKUP_TESTS: bool = False

    # Each API process keeps who a user is, and the JSON of ended jobs, this long (changes
    # reach every process at once over Redis; this bounds the copies if that fails).
    PRINCIPAL_CACHE_SECONDS: float = Field(default=10.0, gt=0)
    ENDED_JOB_CACHE_SECONDS: float = Field(default=300.0, gt=0)
    # Redis keeps a job's snapshot this long after its last change; PostgreSQL keeps it for good.
    JOB_SNAPSHOT_TTL_SECONDS: int = Field(default=24 * 3600, ge=60)
    # A running job's worker refreshes its heartbeat this often ...
    HEARTBEAT_INTERVAL_SECONDS: float = Field(default=5.0, gt=0)
    # ... and a running job whose heartbeat is older than this, or a queued job whose
    # message a worker took this long ago, is taken for lost (given back, or failed as
    # worker_lost) at the reaper's next run; a RabbitMQ broker hears from each worker's
    # connection every half of it.
    WORKER_LOST_AFTER_SECONDS: float = Field(default=60.0, gt=0)
    REAPER_INTERVAL_SECONDS: float = Field(default=30.0, gt=0)
    # A worker that cannot reach the database retries a job's writes this long, so that
    # an outage does not lose the jobs it was running.
    DATABASE_RETRY_SECONDS: float = Field(default=300.0, ge=0)
    # How often beat looks for due schedules.
    SCHEDULER_TICK_SECONDS: float = Field(default=1.0, gt=0)
    # A cancelled tool that has not stopped by itself this long after is terminated.
    CANCEL_GRACE_SECONDS: float = Field(default=2.0, ge=0)
    # A job retried after a transient error waits base * 2^(attempt-1) seconds, with jitter.
    RETRY_BACKOFF_SECONDS: float = Field(default=2.0, ge=0)
    RETRY_BACKOFF_MAX_SECONDS: float = Field(default=300.0, ge=0)
    # Queued jobs this old that the broker never got (a crash between commit and send)
    # are sent again by beat, which looks for them this often.
    RESEND_QUEUED_AFTER_SECONDS: float = Field(default=60.0, gt=0)
    RESEND_INTERVAL_SECONDS: float = Field(default=60.0, gt=0)
    # Terminal jobs older than this are deleted with their logs and artifacts.
    JOB_RETENTION_DAYS: float = Field(default=30.0, gt=0)
    RETENTION_INTERVAL_SECONDS: float = Field(default=3600.0, gt=0)
    # Resumable uploads that received no byte for this long are deleted with their parts
    # (a complete one's file stays), at the same runs.
    UPLOAD_RETENTION_DAYS: float = Field(default=7.0, gt=0)
    # Signs webhook deliveries (X-Tooljobs-Signature: sha256=<hex HMAC of the body>).
    WEBHOOK_SECRET: str = DEFAULT_SECRET

    # Every URL the server calls (app.core.outbound) must lead to public addresses; these
    # networks (CIDRs, or single addresses) and host names are allowed besides.
    OUTBOUND_ALLOWED_NETWORKS: Annotated[
        list[IPvAnyNetwork], NoDecode, BeforeValidator(_comma_list)
    ] = []
    OUTBOUND_ALLOWED_HOSTS: Annotated[list[str], NoDecode, BeforeValidator(_comma_list)] = []
    # Each step of an outbound request (connect, send, read) waits at most this long, and
    # reading the answer stops at this long after the start.
    OUTBOUND_TIMEOUT_SECONDS: float = Field(default=5.0, gt=0)
    # Of an answer's body, at most this much is read.
    OUTBOUND_MAX_RESPONSE_BYTES: int = Field(default=1024**2, ge=0)

    # OGC API - Processes: an execute request without `Prefer: respond-async` waits this
    # long for the results, then answers 201 as an asynchronous one; 0 offers async only.
    OGC_SYNC_WAIT_SECONDS: float = Field(default=60, ge=0, le=600)

    # Where processes keep runtime files: the beat schedule, the embedded database and Redis.
    RUNTIME_DIR: Path = Path("var")
    # Uploaded files and job artifacts; API and workers must share it (a volume in compose).
    STORAGE_DIR: Path | None = None
    # Or where they live as a URL, which takes precedence: `file:///path` (a local
    # directory, as STORAGE_DIR) or `s3://bucket/prefix` (S3-compatible object storage;
    # credentials from the standard AWS variables and files).
    STORAGE_URL: Annotated[str | None, AfterValidator(_storage_url)] = None
    # The S3 endpoint of a server other than AWS (MinIO, Ceph, ...): http(s)://host:port.
    STORAGE_S3_ENDPOINT_URL: str | None = None
    # The same endpoint as clients reach it, when that differs (compose: the processes
    # reach http://minio:9000, a browser http://localhost:9000): presigned download URLs
    # are signed for this address.
    STORAGE_S3_PUBLIC_ENDPOINT_URL: str | None = None
    # How a client gets a stored file or artifact from S3 storage: `redirect` answers 307
    # to a presigned URL of the object, so the bytes do not pass through the API; `proxy`
    # streams them through the API, for clients that cannot reach the store. Local
    # storage always streams.
    STORAGE_DOWNLOADS: Literal["redirect", "proxy"] = "redirect"
    # How long a presigned download URL works (S3 accepts at most 7 days); a client that
    # follows the redirect at once needs seconds.
    STORAGE_PRESIGNED_URL_SECONDS: int = Field(default=300, ge=1, le=7 * 24 * 3600)
    MAX_UPLOAD_BYTES: int = Field(default=1024**3, ge=1)
    # A resumable upload's HEAD or PATCH waits at most this long for a PATCH that is
    # still receiving into it (a cut client's, whose bytes are still being stored).
    UPLOAD_RECEIVING_WAIT_SECONDS: float = Field(default=20.0, ge=0)
    # Every other request body (JSON, forms): past this size 413, before an endpoint reads it.
    MAX_REQUEST_BYTES: int = Field(default=1024**2, ge=1024)
    # How deep arrays and objects may nest in a JSON body (422 past it): deep enough for
    # any tool's inputs, far from the parser's and the validator's recursion limits.
    MAX_JSON_DEPTH: int = Field(default=32, ge=2, le=200)

    # Rate limits per minute, counted in Redis (429 with Retry-After past them); 0 turns
    # one off. Job submits (POST /jobs, /tools/{name}/jobs, /schedules/{id}/trigger)
    # per principal:
    RATE_LIMIT_SUBMIT_PER_MINUTE: int = Field(default=600, ge=0)
    # Login attempts per account (the email tried) and per client address:
    RATE_LIMIT_LOGIN_PER_MINUTE: int = Field(default=10, ge=0)
    RATE_LIMIT_LOGIN_PER_ADDRESS_PER_MINUTE: int = Field(default=60, ge=0)

    # Quotas per user, which a superuser may set otherwise for one user; 0 turns one off.
    # Queued jobs: a submit past it is a 429. Far above any honest backlog (a hundred full
    # batches), it stops a runaway script from filling the queue and Redis.
    MAX_QUEUED_JOBS_PER_USER: int = Field(default=100_000, ge=0)
    # Running jobs: a user's further jobs wait queued. Off by default: fair dispatch
    # already keeps a backlog from starving others at no cost per job, while a cap costs
    # a locked check per job of a capped user and leaves slots idle when only they have
    # work. Set it where teams share workers.
    MAX_RUNNING_JOBS_PER_USER: int = Field(default=0, ge=0)
    # A job held back by its owner's running limit is offered again this much later.
    RUNNING_LIMIT_RETRY_SECONDS: float = Field(default=2.0, gt=0)

    @property
    def cors_origins(self) -> list[str]:
        # A browser's Origin header has no path, not even "/".
        return [str(origin).rstrip("/") for origin in self.BACKEND_CORS_ORIGINS]

    @property
    def storage_dir(self) -> Path:
        return self.STORAGE_DIR or self.RUNTIME_DIR / "storage"

    @cached_property
    def database_url(self) -> str:
        if self.DATABASE_URL:
            return self.DATABASE_URL
        password = f":{self.POSTGRES_PASSWORD}" if self.POSTGRES_PASSWORD else ""
        return (
            f"postgresql+psycopg2://{self.POSTGRES_USER}{password}@"
            f"{self.POSTGRES_SERVER}:{self.POSTGRES_PORT}/{self.POSTGRES_DB}"
        )

    @cached_property
    def broker_url(self) -> str:
        if self.CELERY_BROKER_URL:
            return self.CELERY_BROKER_URL
        # redis-py spells a Unix socket unix://, kombu spells it redis+socket://.
        if self.REDIS_URL.startswith("unix://"):
            return "redis+socket://" + self.REDIS_URL.removeprefix("unix://")
        return self.REDIS_URL

    @model_validator(mode="after")
    def _refuse_default_secrets_outside_local(self) -> Self:
        # Locally they are the documented development values (.env): no warning, which
        # every process of `make run` would print again.
        if self.ENVIRONMENT == "local":
            return self
        defaults = [
            name
            for name in (
                "SECRET_KEY",
                "POSTGRES_PASSWORD",
                "FIRST_SUPERUSER_PASSWORD",
                "WEBHOOK_SECRET",
            )
            if getattr(self, name) == DEFAULT_SECRET
        ]
        if defaults:
            raise ValueError(
                f'{", ".join(defaults)} still "{DEFAULT_SECRET}"; set real secrets for '
                f"ENVIRONMENT={self.ENVIRONMENT} (for example: python -c "
                '"import secrets; print(secrets.token_urlsafe(32))")'
            )
        return self


settings = Settings()
