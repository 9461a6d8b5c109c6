"""Registries: the server (Distribution v2 / OCI distribution API) and, later, the client."""
