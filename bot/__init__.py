"""The Teams edge: app factory, settings, CLI, adapter, dialogs and cards (botbuilder lives here only)."""
