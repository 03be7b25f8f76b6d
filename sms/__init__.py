"""SMS campaigns: encoding, carrier routing and gateways (imports the shared domain from robocall)."""
