"""Simulated fire-panel user information transmission device (GB/T 26875.3-2011, wire only)."""

from simulators.fire.uitd import SCENARIOS, Sent, Step, UitdStats, VirtualUitd, run_uitd

__all__ = ["SCENARIOS", "Sent", "Step", "UitdStats", "VirtualUitd", "run_uitd"]
