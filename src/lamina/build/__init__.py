"""Dockerfile builds: the parser, variable expansion, .dockerignore, the context, cache keys
and the executor (the classic builder's model: every instruction commits an image)."""
