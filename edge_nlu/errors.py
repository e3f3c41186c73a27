"""One root exception; every error that leaves the process carries a machine-readable code.

`ErrorCode` is the one list of codes. A code is what a program branches on (`error.code` in a
result, `edge-nlu: error [code]` on stderr), so codes are never renamed; new ones are added here.
"""

from __future__ import annotations

from enum import Enum


class ErrorCode(str, Enum):
    """Every machine-readable error code, with when it is given.

    A `str` subclass: it compares equal to its value and serializes as it in JSON.
    """

    EDGE_NLU_ERROR = "edge_nlu_error"
    """An error with no more specific code."""
    INTERNAL_ERROR = "internal_error"
    """A bug: one request failed inside the pipeline; the run goes on."""
    IO_ERROR = "io_error"
    """A file or stream the command was given cannot be read or written."""
    MISSING_TOOL = "missing_tool"
    """`edge-nlu demo` or `bench` without the edge-nlu-tools package installed."""
    # requests
    INVALID_INPUT = "invalid_input"
    """A request line or dataset record that is not a JSON object with the fields it needs."""
    INVALID_TEXT = "invalid_text"
    """The request text is not a string, or longer than the runtime accepts."""
    TEXT_TOO_LONG = "text_too_long"
    """The request text is longer than the runtime accepts (`max_text_chars`)."""
    EMPTY_TEXT = "empty_text"
    """The request text is empty or only white space."""
    INVALID_CONTEXT = "invalid_context"
    """The request context does not fit contract section 2 (a wrong type, an unknown key)."""
    UNKNOWN_AREA = "unknown_area"
    """The context names an area the home does not have."""
    UNKNOWN_ENTITY = "unknown_entity"
    """A state override names an entity the home does not have."""
    INVALID_QUERY = "invalid_query"
    """A Hermes `nlu/query` payload that is not UTF-8 JSON of the expected shape."""
    INVALID_EVENT = "invalid_event"
    """A Wyoming event that is malformed (framing, JSON), over the size cap, or a request of the wrong shape."""
    OVERLOADED = "overloaded"
    """`serve` has more queries waiting than `limits.max_queued_queries`: this one is answered at once, unread."""
    TOO_DEEP = "too_deep"
    """A JSON payload nested deeper than the wire accepts."""
    # home and model
    INVALID_HOME = "invalid_home"
    """A home snapshot that does not parse or does not fit contract section 1."""
    INVALID_MODEL = "invalid_model"
    """A model directory that cannot be used."""
    MODEL_NOT_FOUND = "model_not_found"
    """The model directory does not exist."""
    MODEL_INCOMPLETE = "model_incomplete"
    """The model directory lacks a file its manifest needs."""
    MODEL_CORRUPT = "model_corrupt"
    """A model file fails its manifest (size, hash, labels) or onnxruntime cannot load it."""
    # configuration
    INVALID_CONFIG = "invalid_config"
    """A settings file or option that cannot be used (the message names the key path)."""
    CONFIG_UNREADABLE = "config_unreadable"
    """The config file cannot be read or parsed."""
    NO_BROKER = "no_broker"
    """`serve` without `--broker` or `broker.uri`."""
    BAD_BROKER_URI = "bad_broker_uri"
    """A broker URI that is not mqtt(s)://, ws(s):// with a host and port."""
    PASSWORD_FILE_PERMISSIONS = "password_file_permissions"  # noqa: S105 - a code, not a password
    """`broker.password_file` can be read by other users."""
    PASSWORD_FILE_UNREADABLE = "password_file_unreadable"  # noqa: S105 - a code, not a password
    """`broker.password_file` cannot be read or is empty."""
    TLS_WITHOUT_TLS_URI = "tls_without_tls_uri"
    """TLS files given for a plain mqtt:// or ws:// broker."""
    BAD_TLS_FILES = "bad_tls_files"
    """The CA or client certificate files cannot be loaded."""
    BAD_ADAPTER_CONFIG = "bad_adapter_config"
    """An adapter's options do not fit it."""
    # broker and device traffic
    BROKER_REFUSED = "broker_refused"
    """The broker refused the connection."""
    BROKER_AUTH = "broker_auth"
    """The broker refused the credentials."""
    BAD_DEVICE_MESSAGE = "bad_device_message"
    """A device-state payload an adapter cannot read; counted and logged once per topic."""
    ADAPTER_CAP = "adapter_cap"
    """An adapter reached its cap on devices or payload size."""
    # Home Assistant's WebSocket API (live state from HA itself)
    HA_TOKEN_UNREADABLE = "ha_token_unreadable"  # noqa: S105 - a code, not a token
    """No Home Assistant token: `home_assistant.token_file` cannot be read, is empty or readable by others,
    or the environment variable is unset; the source logs it and tries again later."""
    HA_AUTH_INVALID = "ha_auth_invalid"
    """Home Assistant refused the access token (`auth_invalid`); the source logs it and tries again later."""
    HA_PROTOCOL = "ha_protocol"
    """Home Assistant answered outside its WebSocket protocol (no `auth_required`, a failed command)."""
    # learning
    LEARNING_OFF = "learning_off"
    """`learn` or `forget` with a config that has no `learning:` section."""
    NO_STORE = "no_store"
    """`learn` or `forget` without `--config` or `--store`."""
    INVALID_DATE = "invalid_date"
    """`forget --before` with a value that is not an ISO date or time."""
    STORE_ERROR = "store_error"
    """The interaction store failed."""
    STORE_UNAVAILABLE = "store_unavailable"
    """The interaction store is not usable right now (full disk, moved aside); learning writes wait."""
    STORE_CANTOPEN = "store_cantopen"
    """The interaction store file cannot be opened."""
    STORE_CORRUPT = "store_corrupt"
    """The interaction store is not a valid database (the service moves it aside)."""
    STORE_FULL = "store_full"
    """The disk under the interaction store is full; learning writes are dropped and retried."""
    STORE_IO = "store_io"
    """The disk under the interaction store failed a read or write."""
    STORE_BUSY = "store_busy"
    """Another process holds the interaction store's lock too long."""
    STORE_READONLY = "store_readonly"
    """The interaction store is read-only: it is only read."""
    STORE_VERSION = "store_version"
    """The interaction store was written by a newer edge-nlu."""
    INVALID_SIGNAL = "invalid_signal"
    """A feedback signal the store does not know."""
    UNKNOWN_TURN = "unknown_turn"
    """Feedback for a turn the store does not have."""
    INVALID_REWRITE = "invalid_rewrite"
    """A rewrite whose source or target is empty or the same."""
    # tools
    BENCH_FAILED = "bench_failed"
    """A benchmark child process failed."""

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class EdgeNLUError(Exception):
    """Root of all edge-nlu errors."""

    code: ErrorCode = ErrorCode.EDGE_NLU_ERROR

    def __init__(self, message: str, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = ErrorCode(code)

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code.value, "message": self.message}


class InvalidInputError(EdgeNLUError):
    """A request (text, context, JSON line) that cannot be processed."""

    code = ErrorCode.INVALID_INPUT


class HomeError(EdgeNLUError):
    """A home snapshot that does not parse or does not fit the contract."""

    code = ErrorCode.INVALID_HOME


class ModelError(EdgeNLUError):
    """A model directory that is missing files, fails its manifest, or cannot run."""

    code = ErrorCode.INVALID_MODEL


class ConfigError(EdgeNLUError):
    """A settings file or command-line option that cannot be used."""

    code = ErrorCode.INVALID_CONFIG
