"""Tar streams of layers: compression, safe extraction, creation from a diff, tar-split."""
