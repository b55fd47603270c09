from fastapi import APIRouter

from app.api.api_v1.endpoints import health, jobs, login, tools, users

api_router = APIRouter()
for endpoints in (login, users, tools, jobs, health):
    api_router.include_router(endpoints.router)
