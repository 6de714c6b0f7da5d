"""The Teams edge: app factory, settings, CLI, adapter, dialogs and cards.

botbuilder and aiohttp are imported here and nowhere else in the product.
"""
