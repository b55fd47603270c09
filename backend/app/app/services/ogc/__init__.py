"""OGC API - Processes - Part 1: Core over the same jobs: processes are tools, and an
OGC job is a tooljobs job (the REST API and the OGC face see each other's jobs)."""
