"""Simulated access devices: door controllers and OSDP readers, each from its own codec."""
