"""OpenAPI links: which operations take the id that another one answers (a submitted
job's to its reads, cancel, logs and artifacts; a schedule's to its routes). Generated
clients and stateful fuzzers follow them from one call to the next."""

from typing import Any


def links_to(parameter: str, *operation_ids: str, source: str = "$response.body#/id") -> Any:
    """The `links` of a response whose `source` is the `parameter` of each operation."""
    return {
        "links": {
            operation_id: {"operationId": operation_id, "parameters": {parameter: source}}
            for operation_id in operation_ids
        }
    }


JOB_OPERATIONS = (
    "jobs-read-job",
    "jobs-follow-job",
    "jobs-read-log",
    "jobs-list-artifacts",
    "jobs-cancel-job",
    "jobs-delete-job",
)
JOB_LINKS = links_to("job_id", *JOB_OPERATIONS)
FIRST_JOB_LINKS = links_to("job_id", *JOB_OPERATIONS, source="$response.body#/ids/0")
# The first artifact of a list, of the job that the list is of.
ARTIFACT_LINKS = {
    "links": {
        "jobs-read-artifact": {
            "operationId": "jobs-read-artifact",
            "parameters": {"job_id": "$request.path.job_id", "name": "$response.body#/0/name"},
        }
    }
}
FILE_LINKS = links_to("file_id", "files-read-file", "files-read-file-content", "files-delete-file")
SCHEDULE_LINKS = links_to(
    "schedule_id",
    "schedules-read-schedule",
    "schedules-update-schedule",
    "schedules-trigger-schedule",
    "schedules-delete-schedule",
)
USER_LINKS = links_to("user_id", "users-update-user")
API_KEY_LINKS = links_to("key_id", "api-keys-revoke-api-key")
