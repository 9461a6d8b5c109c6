"""The data root: image and layer metadata, tags, leases; crash-safe writes.

Sub-modules each own one file family: ``paths`` (where everything lives), ``atomic`` (write-temp,
fsync, rename), ``lease`` (who is still working on an unfinished write), ``imagedb`` (image
configs), ``layerdb`` (layer chain metadata), ``repositories`` (tags and digests).
"""
