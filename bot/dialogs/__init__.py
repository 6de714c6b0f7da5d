"""The conversations: understand what a person asked, collect what is missing, call one use case."""
