"""``lamina registry serve``: a Distribution v2 / OCI distribution registry.

Shares only the pure core with the rest of lamina (``oci``, ``digest``, ``reference``,
``errors``); storage is Distribution's layout so directories move between the two servers.
"""
