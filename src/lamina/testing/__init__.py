"""Helpers shared by tests, benchmarks and the demo: real root filesystems and images made locally.

Docker Hub is not reachable from where lamina is developed and tested, so base images are
built here from Debian's busybox-static binary (or a debootstrap tree) and imported.
"""
