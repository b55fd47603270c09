from fastapi import APIRouter, Response, status

from app.api.deps import SessionDep
from app.api.routing import ApiRoute
from app.schemas.health import Readiness
from app.services.use_cases import health

router = APIRouter(prefix="/health", tags=["health"], route_class=ApiRoute)


@router.get("", summary="Liveness", description="200 while the process serves requests.")
def liveness() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="Readiness",
    description="Checks the database, Redis and the broker: 503 naming each that fails. "
    "Broken tools (left out when loading) make it `degraded` with a 200, naming them; "
    "`GET /tools?include=broken` says why.",
    responses={503: {"model": Readiness, "description": "A backing service does not answer."}},
)
def readiness(session: SessionDep, response: Response) -> Readiness:
    report = health.readiness(session)
    if report.status == "unavailable":
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return report
