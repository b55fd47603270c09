"""Use-cases the API calls: one module per thing a client works with."""
