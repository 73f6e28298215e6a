"""Credentials: the one chain every mode asks for valid credentials (see chain.py)."""
