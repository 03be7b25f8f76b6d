"""Real phone calls through Asterisk: an asyncio AMI client (placing calls, their outcomes), an asyncio
FastAGI server (the IVR conversation), and the configuration templates both need.

Own small clients rather than pyst2/panoramisk: see README.md's dependency section.
"""
