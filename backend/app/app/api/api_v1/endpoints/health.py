from fastapi import APIRouter, Response, status

from app.api.routing import ApiRoute
from app.core import backing_services
from app.schemas.health import Readiness

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
def readiness(response: Response) -> Readiness:
    failures = backing_services.failures()
    if failures:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    checks = {name: failures.get(name, "ok") for name in backing_services.READINESS_CHECKS}
    return Readiness(status="unavailable" if failures else "ok", checks=checks)
