from fastapi import APIRouter

from app.api.api_v1.endpoints import (
    api_keys,
    files,
    health,
    jobs,
    login,
    schedules,
    tools,
    uploads,
    users,
)

api_router = APIRouter()
# Routes are matched in this order: the ones polled most come first.
for endpoints in (jobs, tools, files, uploads, schedules, users, api_keys, login, health):
    api_router.include_router(endpoints.router)
