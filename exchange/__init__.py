"""Exchange Online admin REST client (httpx + msal), and a local sandbox tenant under sandbox/.

Never imports botbuilder or aiohttp (sandbox/ is a test double of the remote service and may).
"""
