"""The OGC documents of a job: its status info, its results document, and the
callbacks' bodies. Plain functions of the job, so that the routes and the webhook
delivery word them alike."""

from collections.abc import Mapping
from urllib.parse import quote

from app.models.job import JobState
from app.schemas.job import JobRead
from app.schemas.ogc import OGC_REL, Link, StatusCode, StatusInfo

STATUS_CODES = {
    JobState.queued: StatusCode.accepted,
    JobState.running: StatusCode.running,
    JobState.succeeded: StatusCode.successful,
    JobState.failed: StatusCode.failed,
    JobState.cancelled: StatusCode.dismissed,
}
JOB_FAILED_TYPE = "urn:tooljobs:error:job-failed"


def status_info(
    job: JobRead, base: str, api_base: str, *, status: StatusCode | None = None
) -> StatusInfo:
    href = f"{base}/jobs/{job.id}"
    links = [
        Link(href=href, rel="self", type="application/json", title="This status"),
        Link(href=f"{base}/jobs", rel="up", type="application/json", title="The job list"),
        Link(
            href=f"{api_base}/jobs/{job.id}",
            rel="alternate",
            type="application/json",
            title="The job in the REST API",
        ),
    ]
    if job.state is JobState.succeeded:
        links.append(Link(href=f"{href}/results", rel=f"{OGC_REL}/results", title="Results"))
    return StatusInfo(
        processID=job.tool,
        jobID=str(job.id),
        status=status or STATUS_CODES[job.state],
        message=job.message,
        created=job.created_at,
        started=job.started_at,
        finished=job.finished_at,
        updated=job.updated_at,
        progress=round(job.progress * 100),
        links=links,
    )


def results_document(
    job: JobRead, artifacts: Mapping[str, str], asked: Mapping[str, object], api_base: str
) -> dict[str, object]:
    """Each output the execute request chose, by id: the tool's outputs as values, its
    artifacts (name: content type) as links that download (a tool's own output keeps its
    name over an artifact of the same name)."""
    document: dict[str, object] = {
        name: {"href": f"{api_base}/jobs/{job.id}/artifacts/{quote(name)}", "type": media}
        for name, media in artifacts.items()
    }
    document.update(job.outputs or {})
    chosen = asked.get("outputs")
    if isinstance(chosen, list):
        document = {name: value for name, value in document.items() if name in chosen}
    return document


def failure_report(job: JobRead) -> dict[str, object]:
    """The exception report of a job that failed or was dismissed."""
    dismissed = job.state is JobState.cancelled
    return {
        "type": JOB_FAILED_TYPE,
        "title": "Bad Request",
        "status": 400,
        "detail": "the job was dismissed" if dismissed else "the job failed",
        "error": job.error,
        "jobID": str(job.id),
    }


def subscriber_of(ogc_results: Mapping[str, object] | None) -> dict[str, str]:
    """The callback URLs an OGC execute request gave, by the standard's names."""
    subscriber = (ogc_results or {}).get("subscriber")
    return {str(k): str(v) for k, v in subscriber.items()} if isinstance(subscriber, dict) else {}
