"""OGC API - Processes - Part 1: Core, mounted at /ogc with its own errors and OpenAPI."""
