"""The registry client side: credentials and the auth challenge dance (pull/push come later)."""
