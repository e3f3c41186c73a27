"""`edge-nlu serve`: the live MQTT service. Wire formats (Hermes, adapters) are pure; transport is `mqtt`."""
