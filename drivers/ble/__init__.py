"""BLE patrol tags: raw advert decoders (iBeacon, Eddystone UID/TLM), the two receiver formats
on the site broker (OpenMQTTGateway, ESPresense), the site-broker subscriber
(``site_broker.SiteReceivers``) and the box's own adapter (``adapter.AdapterScanner``, bleak).
Everything ends in ``model.Advert`` for the edge's presence layer (docs/patrol.md)."""

from drivers.ble.adverts import Decoded, decode, manufacturer_from_hex, normalise_mac
from drivers.ble.espresense import parse_espresense
from drivers.ble.model import Advert, BadAdvert
from drivers.ble.openmqttgateway import parse_omg

__all__ = ["Advert", "BadAdvert", "Decoded", "decode", "manufacturer_from_hex", "normalise_mac",
           "parse_espresense", "parse_omg"]
