"""Labels the project adds to the HWU64/SLURP scheme, and how NLU intents map to Home Assistant.

The generator (export/) and the resolver (runtime) both read this module, so the two
can never disagree about what a label means.
"""

from __future__ import annotations

# Intents the project adds where HWU64 has no label for a home action. Each is described in
# the shipped labels.json, as the contract asks.
ADDED_INTENTS: dict[str, str] = {
    "iot_climate_query": "the temperature of a room or its climate device",
    "iot_climate_set": "set, raise or lower a thermostat, heater or air conditioner",
    "iot_device_query": "the state or reading of a device or sensor (is it on, is the door locked, how humid)",
    "iot_cover_open": "open a cover (blind, curtain, garage door) or a valve",
    "iot_cover_close": "close a cover or a valve",
    "iot_cover_set": "set a cover or valve to a position (halfway, 40 percent)",
    "iot_lock": "lock a lock",
    "iot_unlock": "unlock a lock",
    "media_resume": "resume the paused media player",
    "media_next": "skip to the next track or episode",
    "media_previous": "go back to the previous track or episode",
    "play_video": "play a movie or TV show on a screen",
    "timer_set": "start a timer for a duration",
    "timer_control": "cancel, pause, resume, lengthen or shorten a running timer, or ask how long it has left",
    "broadcast": "announce a message on the home's speakers",
}

# Slot types the project adds to the HWU64 set.
ADDED_SLOTS: dict[str, str] = {
    "device_name": "the friendly name or alias of one entity of the home",
    "floor_name": "a floor of the home (upstairs, ground floor)",
    "item": "an item for a shopping or to-do list",
}

# NLU intent -> Home Assistant intent. Some need the slots or the home to decide (see resolve).
HA_INTENT: dict[str, str] = {
    "iot_hue_lighton": "HassTurnOn",
    "iot_hue_lightoff": "HassTurnOff",
    "iot_hue_lightchange": "HassLightSet",
    "iot_hue_lightdim": "HassLightSet",
    "iot_hue_lightup": "HassLightSet",
    "iot_wemo_on": "HassTurnOn",
    "iot_wemo_off": "HassTurnOff",
    "iot_cleaning": "HassVacuumStart",
    "iot_climate_query": "HassClimateGetTemperature",
    "iot_climate_set": "HassClimateSetTemperature",
    "iot_device_query": "HassGetState",
    "iot_cover_open": "HassTurnOn",
    "iot_cover_close": "HassTurnOff",
    "iot_cover_set": "HassSetPosition",
    "iot_lock": "HassTurnOn",
    "iot_unlock": "HassTurnOff",
    "audio_volume_up": "HassSetVolume",
    "audio_volume_down": "HassSetVolume",
    "audio_volume_mute": "HassMediaPause",
    "media_resume": "HassMediaUnpause",
    "media_next": "HassMediaNext",
    "media_previous": "HassMediaPrevious",
    "play_music": "HassMediaSearchAndPlay",
    "play_radio": "HassMediaSearchAndPlay",
    "play_podcasts": "HassMediaSearchAndPlay",
    "play_audiobook": "HassMediaSearchAndPlay",
    "play_video": "HassMediaSearchAndPlay",
    "weather_query": "HassGetWeather",
    "datetime_query": "HassGetCurrentTime",
    "timer_set": "HassStartTimer",
    "lists_createoradd": "HassShoppingListAddItem",
    "music_settings": "HassMediaNext",
}

# Default media class per play intent (a satellite's screen can change it: see resolve).
MEDIA_CLASS: dict[str, str] = {
    "play_music": "music",
    "play_radio": "channel",
    "play_podcasts": "podcast",
    "play_audiobook": "audiobook",
    "play_video": "movie",
}
