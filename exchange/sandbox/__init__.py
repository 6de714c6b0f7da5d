"""A local test double of Exchange Online's admin REST endpoint (the "sandbox tenant").

tenant.py, opath.py, cmdlets.py and generate.py hold the directory and cmdlet semantics;
the HTTP side (server, tokens, TLS, faults) builds on them. See README.md.
"""
