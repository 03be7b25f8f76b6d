"""Entry point for the HTTP server: `python server.py [--port 8080]` (same as `robocall serve`)."""

from robocall.commands.serve import serve

if __name__ == "__main__":
    serve()
