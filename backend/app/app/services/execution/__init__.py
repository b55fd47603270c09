"""The worker's runtime: running one job's tool and recording how it ended."""
