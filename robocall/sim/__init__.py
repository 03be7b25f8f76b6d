"""The simulated phone network and its residents: the default, fully deterministic telephony backend."""
