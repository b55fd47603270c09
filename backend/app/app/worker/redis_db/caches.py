"""Who users are and whose API keys are, cached for every process; and the channel on
which API processes tell each other to drop their own copies."""

import uuid
from typing import Final, Literal

from app.schemas.user import Principal
from app.worker.redis_db import keys
from app.worker.redis_db.connection import (
    async_client,
    best_effort,
    best_effort_async,
    client,
    must_answer,
)

PRINCIPAL_TTL_SECONDS = 300
# What is cached for an API key while it is being revoked and for a while after.
REVOKED_API_KEY: Final = "revoked"


@best_effort(None)
def save_principal(principal: Principal) -> None:
    client().set(
        keys.principal(principal.id), principal.model_dump_json(), ex=PRINCIPAL_TTL_SECONDS
    )


@best_effort_async(None)
async def load_principal(user_id: uuid.UUID) -> Principal | None:
    """The cached principal; None when none is cached or Redis does not answer."""
    data = await async_client().get(keys.principal(user_id))
    return None if data is None else Principal.model_validate_json(data)


@best_effort(None)
def publish_invalidation(item: str) -> None:
    """Tell every API process to drop its copy of `item` (when Redis does not answer,
    the others keep it until it expires: PRINCIPAL_/ENDED_JOB_CACHE_SECONDS)."""
    client().publish(keys.INVALIDATIONS_CHANNEL, item)


@best_effort(None)
def save_api_key_owner(key_hash: str, owner_id: uuid.UUID) -> None:
    """Cache whose the key is; never over what is there, so never over a revocation."""
    client().set(keys.api_key_owner(key_hash), str(owner_id), ex=PRINCIPAL_TTL_SECONDS, nx=True)


@best_effort(None)
def load_api_key_owner(key_hash: str) -> uuid.UUID | Literal["revoked"] | None:
    """The cached owner, REVOKED_API_KEY, or None when nothing is cached or Redis does
    not answer."""
    data = client().get(keys.api_key_owner(key_hash))
    if data is None:
        return None
    text = data.decode() if isinstance(data, bytes) else data
    return REVOKED_API_KEY if text == REVOKED_API_KEY else uuid.UUID(text)


@must_answer
def mark_api_key_revoked(key_hash: str) -> None:
    """Overwrite the cached owner, before the key's row is deleted; RedisUnavailable
    when Redis does not answer (then nothing may be revoked: a cached copy could let
    the key in for minutes more).

    A request that read the row just before the delete then cannot cache the key
    again (save_api_key_owner adds only where nothing is cached), and the mark
    outlives, by far, any request still between its read and its write.
    """
    client().set(keys.api_key_owner(key_hash), REVOKED_API_KEY, ex=PRINCIPAL_TTL_SECONDS)
