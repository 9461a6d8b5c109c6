"""Containers on lamina's data root, in docker's on-disk format.

``model`` (config.v2.json / hostconfig.json in and out), ``options`` (what a container is
created with, and docker's flag syntaxes), ``store`` (create/list/get/remove, names, the init
and mount layers), ``service`` (``engine.containers``: docker-py-like objects with methods).
"""
