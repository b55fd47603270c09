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
    description="Checks the database, Redis and the broker; 503 naming each that fails.",
    responses={503: {"model": Readiness, "description": "A backing service does not answer."}},
)
def readiness(session: SessionDep, response: Response) -> Readiness:
    checks = health.readiness_checks(session)
    failures = health.failures(checks)
    if failures:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    report = {name: failures.get(name, "ok") for name in checks}
    return Readiness(status="unavailable" if failures else "ok", checks=report)
