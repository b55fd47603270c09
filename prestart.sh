#!/usr/bin/env bash
# Once per deployment (compose's one-shot `prestart` service, or `make run`), never in
# every API or worker replica: wait for the services, create the database when it is
# missing, migrate, create the first superuser. Safe to run again.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# In the repository alembic.ini is in backend/app; in the image, in the working directory.
if [ -f "$here/backend/app/alembic.ini" ]; then cd "$here/backend/app"; fi

tooljobs wait-for-services
tooljobs create-database
alembic upgrade head
tooljobs create-first-superuser
