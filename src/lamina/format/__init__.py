"""Output formatting as docker does it: Go templates, aligned tables, human units.

Pure: imports nothing from lamina but ``errors``.
"""
