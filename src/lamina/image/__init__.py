"""Images as values: small read-only interfaces, implemented per medium.

Shaped after go-containerregistry's ``v1.Image``/``v1.Layer``: a Layer can give its blob
digest, DiffID, size, media type and its bytes compressed or uncompressed; an Image gives its
config and layers. Implementations live by medium: ``local`` (the data root), ``archive``
(docker-archive tars), ``layout`` (OCI image layouts). Code that moves images (save, load,
push, pull) asks only for these interfaces, so every source works with every sink.
"""

__all__ = ["Layer", "Image"]


def __getattr__(name: str):
    # the interfaces import typing (~10 ms); commands that only use a submodule
    # (``image.config``, ``image.service``) do not pay for them
    if name in __all__:
        from . import interfaces

        return getattr(interfaces, name)
    raise AttributeError(f"module 'lamina.image' has no attribute {name!r}")
