"""The HTTP server (aiohttp): flows, health, and later webhooks and the CDC dashboard."""
