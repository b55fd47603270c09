from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.api.deps import SessionDep
from app.services.use_cases import metrics

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description="Jobs not yet ended by tool and state, jobs ended by tool and end state, "
    "and the tasks waiting in each broker queue: for the whole deployment, from any API "
    "process. No credentials: expose it to your monitoring network only.",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text."}},
)
def read_metrics(session: SessionDep) -> Response:
    return Response(metrics.render(session), media_type=CONTENT_TYPE_LATEST)
