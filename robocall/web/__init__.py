"""The HTTP server (aiohttp): the CDC dashboard and its JSON API, /health and /flows, with the SMS
carrier callbacks and SMS campaign API (sms/web.py) mounted as sub-apps; the app factory is app.py."""
