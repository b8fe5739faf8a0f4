"""Parking rules both sides compute identically: plates (normalise, classify, fuzzy-match)
and tariffs (the fee of a stay). The edge decides with them; the cloud re-checks with them."""
