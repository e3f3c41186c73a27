"""One root exception; every error that leaves the process carries a machine-readable code."""

from __future__ import annotations


class EdgeNLUError(Exception):
    """Root of all edge-nlu errors."""

    code = "edge_nlu_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class InvalidInputError(EdgeNLUError):
    """A request (text, context, JSON line) that cannot be processed."""

    code = "invalid_input"


class HomeError(EdgeNLUError):
    """A home snapshot that does not parse or does not fit the contract."""

    code = "invalid_home"


class ModelError(EdgeNLUError):
    """A model directory that is missing files, fails its manifest, or cannot run."""

    code = "invalid_model"


class ConfigError(EdgeNLUError):
    """A settings file or command-line option that cannot be used."""

    code = "invalid_config"
