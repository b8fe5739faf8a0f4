"""Patrol (巡更) at the edge: BLE presence (calibrated RSSI, dwell, strongest receiver, cloned
tags, battery) and the live tracking of planned rounds (docs/patrol.md)."""
