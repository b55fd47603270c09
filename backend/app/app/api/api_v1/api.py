from fastapi import APIRouter

from app.api.api_v1.endpoints import (
    api_keys,
    files,
    health,
    jobs,
    login,
    schedules,
    tools,
    users,
)

api_router = APIRouter()
for endpoints in (login, users, api_keys, tools, jobs, files, schedules, health):
    api_router.include_router(endpoints.router)
