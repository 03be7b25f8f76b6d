"""SMS gateways: one class per way of reaching a carrier (SMPP, HTTP API, simulator; Twilio not yet)."""
