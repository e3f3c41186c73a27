"""`edge-nlu demo`: a scripted conversation where context changes the answers, live over MQTT or offline."""
