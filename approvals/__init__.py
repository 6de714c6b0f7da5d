"""The approval workflow: models, state machine, service, stores, jobs, audit.

Never imports botbuilder or aiohttp.
"""
