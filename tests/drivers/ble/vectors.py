"""Advert bytes built by hand from the specs (PROTOCOLS.md §6), shared by the BLE tests."""

# PROTOCOLS.md test vector 6: company 0x004C little-endian, 02 15, "BlueCharmBeacons" as the
# UUID, major 0x0EFE = 3838, minor 0x1355 = 4949, tx 0xC5 = -59.
VECTOR_6 = "4c000215426c7565436861726d426561636f6e730efe1355c5"
VECTOR_6_TAG = "ibeacon:426c7565-4368-6172-6d42-6561636f6e73:3838:4949"

# Eddystone UID built from the spec: frame 0x00, tx at 0 m 0xEE = -18 dBm, namespace 10 B,
# instance 6 B, 2 reserved zero bytes.
NAMESPACE = bytes.fromhex("edd1ebeac04e5defa017")
INSTANCE = bytes.fromhex("0badc0ffee01")
UID = bytes([0x00, 0xEE]) + NAMESPACE + INSTANCE + b"\x00\x00"
UID_TAG = "eddystone:edd1ebeac04e5defa017:0badc0ffee01"

# Eddystone TLM built from the spec: frame 0x20, version 0, battery 0x0BB8 = 3000 mV,
# temperature 8.8 0xFE80 = -1.5 °C, adv count 0x00010203 = 66051, secs×10 0x00000BB8 = 300.0 s.
TLM = bytes.fromhex("2000" "0bb8" "fe80" "00010203" "00000bb8")

