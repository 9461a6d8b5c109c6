"""The OCI runtime side of containers: the runtime spec built from a container's config
(``spec``, ``seccomp``, ``capabilities``), the runtime itself (``runc``: invocation and the
choice between runc and crun), and the per-container monitor (``monitor``)."""
