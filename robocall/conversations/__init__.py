"""Every host of the flow engine and the one writer of what its sessions produce.

A phone call (call_handler, calls: whichever backend carries it) and a health declaration by SMS
(sms_declaration, sms_keypad) run the same engine; their answers, escalations (home visits
included) and the single SMS they send (outbox) are written by recording and outbox only.
"""
