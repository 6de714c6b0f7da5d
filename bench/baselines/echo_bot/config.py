# Microsoft's 02.echo-bot sample (BotBuilder-Samples, samples/python/02.echo-bot), written again
# here for the benchmark. One change: PORT may come from the environment, so that the stock and
# the fixed copy can run side by side.

import os


class DefaultConfig:
    """The bot's configuration, from the environment as the sample reads it."""

    PORT = int(os.environ.get("PORT", "3978"))
    APP_ID = os.environ.get("MicrosoftAppId", "")
    APP_PASSWORD = os.environ.get("MicrosoftAppPassword", "")
    APP_TYPE = os.environ.get("MicrosoftAppType", "MultiTenant")
    APP_TENANTID = os.environ.get("MicrosoftAppTenantId", "")
