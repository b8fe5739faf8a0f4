"""Patrol (巡更) simulator: guards carrying BLE tags walk routes past the site file's
receivers, which publish what they hear to the site-local broker as OpenMQTTGateway and
ESPresense do (``python -m simulators.patrol``; ``courtyard sim site`` when the site file has
``patrol:``). Advert bytes are built here from the public specs, never with the edge's or the
contract's helpers. Layout: ``frames`` (tags, advert bytes), ``wire`` (receiver messages),
``radio`` (RSSI, loss), ``walk`` (where a guard is), ``scenarios``, ``engine`` (adverts →
messages, no time), ``publisher`` (the site broker), ``run`` (scaled time).
"""
