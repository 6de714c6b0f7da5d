"""What a person can ask for, as plain use cases. Never imports botbuilder or aiohttp."""
